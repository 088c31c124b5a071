package io.batchkit.web.internal;

import io.batchkit.JobQuery;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads a request's query parameters, answering {@code 400} with the parameter's name for a value
 * that does not parse. Each parameter may be given more than once, or as a comma-separated list
 * where several values make sense (statuses).
 */
final class QueryParams {
  private final Map<String, List<String>> params;

  QueryParams(Map<String, List<String>> params) {
    this.params = params;
  }

  /** The last value of {@code name}, or null when it is absent or empty. */
  String text(String name) {
    List<String> values = params.get(name);
    if (values == null || values.isEmpty()) {
      return null;
    }
    String value = values.get(values.size() - 1).strip();
    return value.isEmpty() ? null : value;
  }

  /** {@code name} as an int from {@code min} to {@code max}, or {@code fallback} when absent. */
  int integer(String name, int fallback, int min, int max) {
    String text = text(name);
    if (text == null) {
      return fallback;
    }
    int value;
    try {
      value = Integer.parseInt(text);
    } catch (NumberFormatException e) {
      throw ApiException.badField(name, "must be a whole number, was '" + clip(text) + "'");
    }
    if (value < min || value > max) {
      throw ApiException.badField(
          name, "must be between " + min + " and " + max + ", was " + value);
    }
    return value;
  }

  /**
   * {@code name} as an ISO-8601 time with its offset ({@code 2026-11-30T10:00:00Z}, {@code
   * 2026-11-30T11:00:00+01:00}), or null when absent.
   */
  Instant instant(String name) {
    String text = text(name);
    if (text == null) {
      return null;
    }
    try {
      // a '+' of an offset (10:00:00+01:00) arrives as a space, as a query string decodes it
      return OffsetDateTime.parse(text.replace(' ', '+')).toInstant();
    } catch (DateTimeParseException e) {
      throw ApiException.badField(
          name,
          "must be an ISO-8601 instant such as 2026-11-30T10:00:00Z, was '" + clip(text) + "'");
    }
  }

  /** The page's offset: 0 unless given. */
  int offset() {
    return integer("offset", 0, 0, Integer.MAX_VALUE);
  }

  /** The page's size: {@value JobQuery#DEFAULT_LIMIT} unless given. */
  int limit() {
    return integer("limit", JobQuery.DEFAULT_LIMIT, 1, JobQuery.MAX_LIMIT);
  }

  /** Every value of {@code name} as a constant of {@code type}, split at commas; empty if none. */
  <E extends Enum<E>> EnumSet<E> enums(String name, Class<E> type) {
    EnumSet<E> set = EnumSet.noneOf(type);
    for (String value : params.getOrDefault(name, List.of())) {
      for (String part : value.split(",")) {
        String constant = part.strip().toUpperCase(Locale.ROOT);
        if (constant.isEmpty()) {
          continue;
        }
        try {
          set.add(Enum.valueOf(type, constant));
        } catch (IllegalArgumentException e) {
          throw ApiException.badField(
              name,
              "must be one of " + List.of(type.getEnumConstants()) + ", was '" + clip(part) + "'");
        }
      }
    }
    return set;
  }

  /** The parameters whose names start with {@code prefix}, without it, with their last values. */
  List<Map.Entry<String, String>> withPrefix(String prefix) {
    List<Map.Entry<String, String>> found = new ArrayList<>();
    params.forEach(
        (name, values) -> {
          if (name.startsWith(prefix) && !values.isEmpty()) {
            found.add(Map.entry(name.substring(prefix.length()), values.get(values.size() - 1)));
          }
        });
    return found;
  }

  /** A value cut short for an error message: a query may be long, and is echoed back. */
  static String clip(String text) {
    return text.length() <= 40 ? text : text.substring(0, 40) + "...";
  }
}
