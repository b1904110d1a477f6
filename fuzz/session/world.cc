#include "fuzz/session/world.h"

#include <cstring>
#include <utility>

#include "postbox/write_batch.h"

namespace postbox::fuzz {
namespace {

template <typename Tag>
std::string Raw(const Id16<Tag>& id) {
  return std::string(id.AsBytes());
}

// The first failed op of a written batch, as a Status naming the fixture step.
Status Check(const Status& whole, const WriteBatch& batch, std::string_view step) {
  if (!whole.ok()) return Status(whole.code(), std::string(step) + ": " + whole.ToString());
  for (size_t i = 0; i < batch.results().size(); ++i) {
    const Status& s = batch.results()[i].status;
    if (!s.ok()) {
      return Status(s.code(), std::string(step) + " op " + std::to_string(i) + ": " + s.ToString());
    }
  }
  return Status::Ok();
}

PostRequest Post(const MailboxKey& from, const MailboxKey& to, const MessageId& id,
                 std::string topic, std::string_view bytes) {
  PostRequest r;
  r.from = from;
  r.to = to;
  r.id = id;
  r.topic = std::move(topic);
  r.meta = "{\"fixture\":1}";
  r.bytes = bytes;
  return r;
}

UploadRequest Upload(const MailboxKey& from, const MailboxKey& to, const MessageId& id,
                     std::string topic, std::string_view blob) {
  UploadRequest r;
  r.from = from;
  r.to = to;
  r.id = id;
  r.topic = std::move(topic);
  r.meta = std::string(kUploadMeta);
  r.length = blob.size();
  r.digest = ComputeDigest128(blob);
  return r;
}

}  // namespace

MailboxKey World::self() const {
  MailboxKey k;
  std::memcpy(k.bytes.data(), value(Ref::kSelf).data(), k.bytes.size());
  return k;
}

Status World::Rebuild(DB* db) {
  WriteBatch create;
  for (const MailboxKey& k : mailboxes_) create.DeleteMailbox(k);
  const size_t first = create.size();
  for (int i = 0; i < 3; ++i) create.CreateMailbox();
  POSTBOX_RETURN_IF_ERROR(Check(db->Write(&create), create, "creating the fixture's mailboxes"));
  const MailboxCredentials self = *create.results()[first].credentials;
  const MailboxCredentials peer = *create.results()[first + 1].credentials;
  const MailboxCredentials stranger = *create.results()[first + 2].credentials;
  mailboxes_ = {self.mkey, peer.mkey, stranger.mkey};

  const auto id = [](MessageId* out) {
    *out = MessageId::Random();
    return *out;
  };
  MessageId in, out, foreign, gone, empty, upload, upload_in;
  // The same every time: made once.
  static const std::string in_blob = PatternBytes(kInSeed, kInBlobSize);
  static const std::string out_blob = PatternBytes(kOutSeed, kOutBlobSize);
  static const std::string up_blob = PatternBytes(kUploadSeed, kUploadSize);
  static const std::string up_in_blob = PatternBytes(kUploadInSeed, kUploadInSize);
  static const auto big = [] {
    std::array<std::string, kBigEntries> v;
    for (size_t i = 0; i < kBigEntries; ++i) {
      v[i] = PatternBytes(kBigSeed + static_cast<uint32_t>(i), kBigEntrySize);
    }
    return v;
  }();

  WriteBatch b;
  b.Connect(self.mkey, peer.mkey);
  b.Connect(peer.mkey, stranger.mkey);
  b.PostMessage(Post(peer.mkey, self.mkey, id(&in), "in", in_blob));
  b.PostMessage(Post(self.mkey, peer.mkey, id(&out), "out", out_blob));
  b.PostMessage(Post(peer.mkey, stranger.mkey, id(&foreign), "foreign", "not yours"));
  b.PostMessage(Post(peer.mkey, self.mkey, id(&gone), "gone", "first"));
  // The same slot again: `gone` is superseded and answers 410 from now on.
  b.PostMessage(Post(peer.mkey, self.mkey, MessageId::Random(), "gone", "second"));
  b.PostMessage(Post(peer.mkey, self.mkey, id(&empty), "empty", ""));
  b.BeginUpload(Upload(self.mkey, peer.mkey, id(&upload), std::string(kUploadTopic), up_blob));
  b.WriteChunk(self.mkey, upload, 0, std::string_view(up_blob).substr(0, kUploadCommitted));
  b.BeginUpload(Upload(peer.mkey, self.mkey, id(&upload_in), "up-in", up_in_blob));
  b.WriteChunk(peer.mkey, upload_in, 0, std::string_view(up_in_blob).substr(0, kUploadInCommitted));
  b.PutEntry(self.mkey, "profile/name", "Ada", 0);
  for (int i = 1; i <= 4; ++i) b.PutEntry(self.mkey, "read/" + std::to_string(i), "1", 0);
  for (size_t i = 0; i < kBigEntries; ++i) {
    b.PutEntry(self.mkey, "big/" + std::to_string(i), big[i], 0);
  }
  b.PutEntry(self.mkey, "gone/key", "deleted below", 0);
  b.DeleteEntry(self.mkey, "gone/key", 0);
  b.RegisterPush(self.mkey, Platform::kIos, "apns:fixture");
  POSTBOX_RETURN_IF_ERROR(Check(db->Write(&b), b, "writing the fixture"));

  values_[static_cast<size_t>(Ref::kSelf)] = Raw(self.mkey);
  values_[static_cast<size_t>(Ref::kPeer)] = Raw(peer.mkey);
  values_[static_cast<size_t>(Ref::kStranger)] = Raw(stranger.mkey);
  values_[static_cast<size_t>(Ref::kIn)] = Raw(in);
  values_[static_cast<size_t>(Ref::kOut)] = Raw(out);
  values_[static_cast<size_t>(Ref::kForeign)] = Raw(foreign);
  values_[static_cast<size_t>(Ref::kGone)] = Raw(gone);
  values_[static_cast<size_t>(Ref::kEmpty)] = Raw(empty);
  values_[static_cast<size_t>(Ref::kUpload)] = Raw(upload);
  values_[static_cast<size_t>(Ref::kUploadIn)] = Raw(upload_in);
  values_[static_cast<size_t>(Ref::kFresh0)] = Raw(MessageId::Random());
  values_[static_cast<size_t>(Ref::kFresh1)] = Raw(MessageId::Random());
  values_[static_cast<size_t>(Ref::kSecretSelf)] = self.secret;
  values_[static_cast<size_t>(Ref::kSecretPeer)] = peer.secret;
  for (size_t i = 0; i < kRefCount; ++i) {
    tokens_[i] = Token(static_cast<Ref>(i));
    if (values_[i].size() != tokens_[i].size()) {
      return Status::Internal("fixture value " + std::string(kRefNames[i]) + " has " +
                              std::to_string(values_[i].size()) + " bytes, its token " +
                              std::to_string(tokens_[i].size()));
    }
  }
  return Status::Ok();
}

void World::Substitute(std::string* stream) const {
  size_t at = 0;
  while ((at = stream->find(kTokenPrefix, at)) != std::string::npos) {
    bool replaced = false;
    for (size_t i = 0; i < kRefCount && !replaced; ++i) {
      if (stream->compare(at, tokens_[i].size(), tokens_[i]) == 0) {
        stream->replace(at, tokens_[i].size(), values_[i]);
        at += tokens_[i].size();
        replaced = true;
      }
    }
    if (!replaced) at += kTokenPrefix.size();
  }
}

}  // namespace postbox::fuzz
