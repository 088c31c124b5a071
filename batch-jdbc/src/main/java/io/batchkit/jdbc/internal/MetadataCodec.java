package io.batchkit.jdbc.internal;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Encodes a batch's metadata (string keys to string values) as a JSON object in one column, so that
 * a batch reads back from a single row. Hand-written because batchkit takes no JSON dependency, and
 * Java serialization is not used anywhere.
 */
final class MetadataCodec {
  private MetadataCodec() {}

  static String encode(Map<String, String> metadata) {
    StringBuilder out = new StringBuilder("{");
    boolean first = true;
    for (Map.Entry<String, String> entry : metadata.entrySet()) {
      if (!first) {
        out.append(',');
      }
      first = false;
      quote(entry.getKey(), out);
      out.append(':');
      quote(entry.getValue(), out);
    }
    return out.append('}').toString();
  }

  private static void quote(String s, StringBuilder out) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        default -> {
          if (c < 0x20 || c == 0x2028 || c == 0x2029) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }

  static Map<String, String> decode(String json) {
    Parser parser = new Parser(json);
    Map<String, String> map = new LinkedHashMap<>();
    parser.expect('{');
    if (parser.peek() == '}') {
      parser.pos++;
      return map;
    }
    while (true) {
      String key = parser.string();
      parser.expect(':');
      map.put(key, parser.string());
      char next = parser.next();
      if (next == '}') {
        return map;
      }
      if (next != ',') {
        throw new IllegalArgumentException("malformed metadata at " + parser.pos + ": " + json);
      }
    }
  }

  private static final class Parser {
    private final String s;
    private int pos;

    Parser(String s) {
      this.s = s;
    }

    char peek() {
      return s.charAt(pos);
    }

    char next() {
      return s.charAt(pos++);
    }

    void expect(char c) {
      if (next() != c) {
        throw new IllegalArgumentException(
            "malformed metadata, expected '" + c + "' at " + (pos - 1));
      }
    }

    String string() {
      expect('"');
      StringBuilder out = new StringBuilder();
      while (true) {
        char c = next();
        if (c == '"') {
          return out.toString();
        }
        if (c != '\\') {
          out.append(c);
          continue;
        }
        char e = next();
        switch (e) {
          case '"', '\\', '/' -> out.append(e);
          case 'n' -> out.append('\n');
          case 't' -> out.append('\t');
          case 'r' -> out.append('\r');
          case 'b' -> out.append('\b');
          case 'f' -> out.append('\f');
          case 'u' -> {
            out.append((char) Integer.parseInt(s.substring(pos, pos + 4), 16));
            pos += 4;
          }
          default -> throw new IllegalArgumentException("malformed escape at " + (pos - 1));
        }
      }
    }
  }
}
