"""Two mailboxes, a blob sent, the sender sees VIEWED: bindings/README.md's
Python example (the same program as bindings/c/example/two_mailboxes.c), run
by ctest (python.example). Usage: two_mailboxes.py FOLDER"""

import sys
import time

import postbox
from postbox import Status


def main(folder: str) -> int:
    # A server over a store, with two connected mailboxes.
    with postbox.Store(folder + "/server") as db:
        alice, bob = db.create_mailbox(), db.create_mailbox()
        db.connect(alice.mkey, bob.mkey)
        with postbox.Server(db, port=0) as server, \
                postbox.Replica(folder + "/alice", mkey=alice.mkey, secret=alice.secret,
                                port=server.port) as a, \
                postbox.Replica(folder + "/bob", mkey=bob.mkey, secret=bob.secret,
                                port=server.port) as b:
            # Alice posts a blob; it is uploaded from her outbox.
            id = a.post(bob.mkey, b"hello, bob", topic="note")
            a.sync()

            # Bob finds it in his inbox, downloads it, views it.
            b.sync()
            b.request_blob(id)
            # Unavailable until the download completes (an app would wait for on_change).
            for _ in range(1000):
                try:
                    blob = b.read_blob(id)
                    break
                except postbox.Unavailable:
                    time.sleep(0.01)
            else:
                print("download: not complete", file=sys.stderr)
                return 1
            print("bob got:", blob.decode())
            b.update_status(id, Status.VIEWED)
            b.sync()

            # Alice sees VIEWED.
            a.sync()
            viewed = a.get_message(id).status == Status.VIEWED
            print("alice sees:", "VIEWED" if viewed else "not viewed")
    return 0 if viewed and postbox.live_handles() == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
