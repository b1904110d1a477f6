package org.postbox;

/** The outcome of a client's status update: the status after it, and whether it raised it. */
public final class StatusResult {
  private final Status status;
  private final boolean applied;

  StatusResult(int status, boolean applied) {
    this.status = Status.of(status);
    this.applied = applied;
  }

  public Status status() {
    return status;
  }

  public boolean applied() {
    return applied;
  }

  @Override
  public String toString() {
    return "StatusResult{status=" + status + ", applied=" + applied + "}";
  }
}
