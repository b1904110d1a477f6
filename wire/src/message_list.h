// Internal: the one list of (message value, generated table) pairs, so that
// explicit instantiations and dispatch tables cannot miss a message.
#ifndef POSTBOX_WIRE_SRC_MESSAGE_LIST_H_
#define POSTBOX_WIRE_SRC_MESSAGE_LIST_H_

#define POSTBOX_WIRE_FOR_EACH_MESSAGE(X)      \
  X(Hello, Hello)                             \
  X(HelloReply, HelloReply)                   \
  X(Poll, Poll)                               \
  X(InfoPacket, InfoPacket)                   \
  X(Ack, Ack)                                 \
  X(UploadBegin, UploadBegin)                 \
  X(UploadChunk, UploadChunk)                 \
  X(UploadQueryOffset, UploadQueryOffset)     \
  X(UploadOffset, UploadOffset)               \
  X(UploadCommit, UploadCommit)               \
  X(UploadAbort, UploadAbort)                 \
  X(DownloadRequest, DownloadRequest)         \
  X(DownloadChunk, DownloadChunk)             \
  X(StatusUpdate, StatusUpdate)               \
  X(EntryGet, EntryGet)                       \
  X(EntryPut, EntryPut)                       \
  X(EntryDelete, EntryDelete)                 \
  X(EntryList, EntryList)                     \
  X(EntryListReply, EntryListReply)           \
  X(EntryValue, EntryValue)                   \
  X(ConnectionAdd, ConnectionAdd)             \
  X(ConnectionRemove, ConnectionRemove)       \
  X(ConnectionList, ConnectionList)           \
  X(ConnectionListReply, ConnectionListReply) \
  X(PushRegister, PushRegister)               \
  X(Ping, Ping)                               \
  X(Pong, Pong)                               \
  X(ErrorReply, Error)                        \
  X(Ok, Ok)                                   \
  X(EndpointRegister, EndpointRegister)       \
  X(EndpointReply, EndpointReply)             \
  X(EndpointList, EndpointList)               \
  X(EndpointListReply, EndpointListReply)     \
  X(EndpointRevoke, EndpointRevoke)

#endif  // POSTBOX_WIRE_SRC_MESSAGE_LIST_H_
