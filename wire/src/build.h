// Internal: message value -> FlatBuffers table, one overload per message.
#ifndef POSTBOX_WIRE_SRC_BUILD_H_
#define POSTBOX_WIRE_SRC_BUILD_H_

#include <vector>

#include "fb_util.h"

namespace postbox::wire::internal {

// The builder and the scratch list of child offsets, kept by the Encoder so
// that building a table vector allocates nothing once both have grown.
struct BuildContext {
  Builder fbb{1024};
  std::vector<flatbuffers::Offset<void>> offsets;
};

// Each adds the message's table to ctx.fbb (which must be cleared) and
// returns its offset, ready for Finish.
#define POSTBOX_WIRE_DECLARE_BUILD(M) \
  flatbuffers::Offset<void> Build(BuildContext& ctx, const M& m);
POSTBOX_WIRE_DECLARE_BUILD(Hello)
POSTBOX_WIRE_DECLARE_BUILD(HelloReply)
POSTBOX_WIRE_DECLARE_BUILD(Poll)
POSTBOX_WIRE_DECLARE_BUILD(InfoPacket)
POSTBOX_WIRE_DECLARE_BUILD(Ack)
POSTBOX_WIRE_DECLARE_BUILD(UploadBegin)
POSTBOX_WIRE_DECLARE_BUILD(UploadChunk)
POSTBOX_WIRE_DECLARE_BUILD(UploadQueryOffset)
POSTBOX_WIRE_DECLARE_BUILD(UploadOffset)
POSTBOX_WIRE_DECLARE_BUILD(UploadCommit)
POSTBOX_WIRE_DECLARE_BUILD(UploadAbort)
POSTBOX_WIRE_DECLARE_BUILD(DownloadRequest)
POSTBOX_WIRE_DECLARE_BUILD(DownloadChunk)
POSTBOX_WIRE_DECLARE_BUILD(StatusUpdate)
POSTBOX_WIRE_DECLARE_BUILD(EntryGet)
POSTBOX_WIRE_DECLARE_BUILD(EntryPut)
POSTBOX_WIRE_DECLARE_BUILD(EntryDelete)
POSTBOX_WIRE_DECLARE_BUILD(EntryList)
POSTBOX_WIRE_DECLARE_BUILD(EntryListReply)
POSTBOX_WIRE_DECLARE_BUILD(EntryValue)
POSTBOX_WIRE_DECLARE_BUILD(ConnectionAdd)
POSTBOX_WIRE_DECLARE_BUILD(ConnectionRemove)
POSTBOX_WIRE_DECLARE_BUILD(ConnectionList)
POSTBOX_WIRE_DECLARE_BUILD(ConnectionListReply)
POSTBOX_WIRE_DECLARE_BUILD(EndpointRegister)
POSTBOX_WIRE_DECLARE_BUILD(EndpointReply)
POSTBOX_WIRE_DECLARE_BUILD(EndpointList)
POSTBOX_WIRE_DECLARE_BUILD(EndpointListReply)
POSTBOX_WIRE_DECLARE_BUILD(EndpointRevoke)
POSTBOX_WIRE_DECLARE_BUILD(PushRegister)
POSTBOX_WIRE_DECLARE_BUILD(Ping)
POSTBOX_WIRE_DECLARE_BUILD(Pong)
POSTBOX_WIRE_DECLARE_BUILD(ErrorReply)
POSTBOX_WIRE_DECLARE_BUILD(Ok)
#undef POSTBOX_WIRE_DECLARE_BUILD

}  // namespace postbox::wire::internal

#endif  // POSTBOX_WIRE_SRC_BUILD_H_
