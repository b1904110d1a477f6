package org.postbox;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/** One page of a listing: its items, and whether the limit cut the listing short. */
public final class Page<T> {
  private final List<T> items;
  private final boolean more;

  @SuppressWarnings("unchecked")
  Page(Object[] items, boolean more) {
    this.items = Collections.unmodifiableList(Arrays.asList((T[]) items));
    this.more = more;
  }

  public List<T> items() {
    return items;
  }

  /** True: the limit cut the list short; list again after the last item. */
  public boolean more() {
    return more;
  }

  @Override
  public String toString() {
    return "Page{" + items + (more ? ", more" : "") + "}";
  }
}
