package io.batchkit.internal.util;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** The batchkit version of this build, which nodes report in the store's registry. */
public final class Version {
  private static final String RESOURCE = "META-INF/batchkit/version.properties";

  /** The version, or {@code "unknown"} when the file is missing (a class path without it). */
  public static final String CURRENT = read();

  private Version() {}

  private static String read() {
    try (InputStream in = Version.class.getClassLoader().getResourceAsStream(RESOURCE)) {
      if (in == null) {
        return "unknown";
      }
      Properties properties = new Properties();
      properties.load(in);
      String version = properties.getProperty("version", "").strip();
      return version.isEmpty() || version.startsWith("$") ? "unknown" : version;
    } catch (IOException e) {
      return "unknown";
    }
  }
}
