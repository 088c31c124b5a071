package io.batchkit.internal.util;

import java.time.Duration;
import java.util.regex.Pattern;

/**
 * Argument checks shared by every public entry point. Each check returns its argument so that
 * checking and assigning take one line, and each message names the field, the limit and the value
 * seen.
 *
 * <p>Nulls throw {@link NullPointerException}; values out of range throw {@link
 * IllegalArgumentException}.
 */
public final class Checks {
  private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z][A-Za-z0-9_]*");

  private Checks() {}

  /** Returns {@code value}, or throws NPE naming {@code field} when it is null. */
  public static <T> T notNull(T value, String field) {
    // not requireNonNull(value, supplier): every record on the hot path checks its fields here,
    // and the capturing lambda was an object per call (measured: 3 % of the bytes per no-op job)
    if (value == null) {
      throw new NullPointerException(field + " must not be null");
    }
    return value;
  }

  /** Returns {@code value} if it has at least one non-blank character. */
  public static String notBlank(String value, String field) {
    notNull(value, field);
    if (value.isBlank()) {
      throw new IllegalArgumentException(field + " must not be blank");
    }
    return value;
  }

  /**
   * Returns {@code value} if it is non-blank, {@link #storable} and at most {@code maxLength}
   * characters long.
   */
  public static String notBlank(String value, String field, int maxLength) {
    notBlank(value, field);
    storable(value, field);
    return maxLength(value, field, maxLength);
  }

  /** Returns {@code value} (non-null) if it is at most {@code maxLength} characters long. */
  public static String maxLength(String value, String field, int maxLength) {
    notNull(value, field);
    if (value.length() > maxLength) {
      throw new IllegalArgumentException(
          field + " must be at most " + maxLength + " characters, was " + value.length());
    }
    return value;
  }

  /**
   * Returns {@code value} (non-null) if every store keeps it exactly as given, i.e. {@link
   * #unstorable} finds nothing; batchkit refuses such text everywhere so that a batch valid on one
   * store is valid on all.
   *
   * @throws IllegalArgumentException naming {@code field} and what was found where
   */
  public static String storable(String value, String field) {
    notNull(value, field);
    String problem = unstorable(value);
    if (problem != null) {
      throw new IllegalArgumentException(field + " must not contain " + problem);
    }
    return value;
  }

  /**
   * Returns what in {@code text} a store cannot keep as given, or null: a NUL character (U+0000),
   * which PostgreSQL text cannot hold, or an unpaired surrogate, which is not valid UTF-8 and which
   * JDBC drivers silently replace with '?'.
   */
  public static String unstorable(String text) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '\u0000') {
        return "the NUL character (U+0000), found at index " + i;
      }
      if (Character.isSurrogate(c)) {
        if (Character.isHighSurrogate(c)
            && i + 1 < text.length()
            && Character.isLowSurrogate(text.charAt(i + 1))) {
          i++;
          continue;
        }
        return String.format(
            "an unpaired surrogate (U+%04X, not valid UTF-8), found at index %d", (int) c, i);
      }
    }
    return null;
  }

  /**
   * Returns {@code text} with each character a store cannot keep ({@link #unstorable}: NUL, an
   * unpaired surrogate) replaced by U+FFFD; {@code text} itself if it has none.
   */
  public static String replaceUnstorable(String text) {
    if (unstorable(text) == null) {
      return text;
    }
    StringBuilder out = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (Character.isHighSurrogate(c)
          && i + 1 < text.length()
          && Character.isLowSurrogate(text.charAt(i + 1))) {
        out.append(c).append(text.charAt(++i));
      } else if (c == '\u0000' || Character.isSurrogate(c)) {
        out.append('\uFFFD');
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  /** Returns {@code value} if it is greater than zero. */
  public static int positive(int value, String field) {
    if (value <= 0) {
      throw new IllegalArgumentException(field + " must be positive, was " + value);
    }
    return value;
  }

  /** Returns {@code value} if it lies in {@code [min, max]}. */
  public static int between(int value, int min, int max, String field) {
    if (value < min || value > max) {
      throw new IllegalArgumentException(
          field + " must be between " + min + " and " + max + ", was " + value);
    }
    return value;
  }

  /** Returns {@code value} if it lies in {@code [min, max]}. */
  public static double between(double value, double min, double max, String field) {
    if (!(value >= min && value <= max)) {
      throw new IllegalArgumentException(
          field + " must be between " + min + " and " + max + ", was " + value);
    }
    return value;
  }

  /** Returns {@code value} if it is not negative. */
  public static int notNegative(int value, String field) {
    if (value < 0) {
      throw new IllegalArgumentException(field + " must not be negative, was " + value);
    }
    return value;
  }

  /** Returns {@code value} (non-null) if it is longer than zero. */
  public static Duration positive(Duration value, String field) {
    notNull(value, field);
    if (value.isNegative() || value.isZero()) {
      throw new IllegalArgumentException(field + " must be positive, was " + value);
    }
    return value;
  }

  /** Returns {@code value} (non-null) if it is between {@code min} and {@code max}, inclusive. */
  public static Duration between(Duration value, Duration min, Duration max, String field) {
    notNull(value, field);
    if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
      throw new IllegalArgumentException(
          field + " must be between " + min + " and " + max + ", was " + value);
    }
    return value;
  }

  /** Returns {@code value} (non-null) if it is zero or longer. */
  public static Duration notNegative(Duration value, String field) {
    notNull(value, field);
    if (value.isNegative()) {
      throw new IllegalArgumentException(field + " must not be negative, was " + value);
    }
    return value;
  }

  /**
   * Returns {@code value} if it is an SQL-safe identifier: a letter followed by letters, digits or
   * underscores, at most {@code maxLength} characters.
   */
  public static String identifier(String value, String field, int maxLength) {
    notNull(value, field);
    maxLength(value, field, maxLength);
    if (!IDENTIFIER.matcher(value).matches()) {
      throw new IllegalArgumentException(
          field
              + " must start with a letter and contain only letters, digits and underscores, was '"
              + value
              + "'");
    }
    return value;
  }

  /** Throws {@link IllegalStateException} with {@code message} unless {@code condition} holds. */
  public static void state(boolean condition, String message) {
    if (!condition) {
      throw new IllegalStateException(message);
    }
  }
}
