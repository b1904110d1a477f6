package org.postbox;

/** Push platforms (pbx_platform); registering NONE clears the registration. Same numbers as the C API (and, where it says so, the wire): do not renumber. */
public enum Platform {
  NONE(0),
  IOS(1),
  ANDROID(2),
  WEB(3);

  private final int code;

  Platform(int code) {
    this.code = code;
  }

  /** The C API's number. */
  public int code() {
    return code;
  }

  /** The constant for a C API number; IllegalArgumentException for an unknown one. */
  public static Platform of(int code) {
    for (Platform v : values()) {
      if (v.code == code) return v;
    }
    throw new IllegalArgumentException("Platform: unknown code " + code);
  }
}
