package org.postbox;

/** The outcome of an entry put or delete, a version max-merge (pbx_put_result). */
public final class PutResult {
  private final boolean applied;
  private final long version;

  PutResult(boolean applied, long version) {
    this.applied = applied;
    this.version = version;
  }

  /** False: the stored state won the merge and is unchanged. */
  public boolean applied() {
    return applied;
  }

  /** The stored version after the call. */
  public long version() {
    return version;
  }

  @Override
  public String toString() {
    return "PutResult{applied=" + applied + ", version=" + version + "}";
  }
}
