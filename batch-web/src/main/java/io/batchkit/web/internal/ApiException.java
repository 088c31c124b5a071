package io.batchkit.web.internal;

import io.batchkit.BatchValidationException.Violation;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A request the API refuses: its HTTP status and what the response body says. The message names
 * what was wrong with the request; it never carries a payload, a stack trace or a server detail.
 */
final class ApiException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  final int status;
  final transient List<Violation> violations;
  final transient Map<String, String> headers;

  ApiException(int status, String message) {
    this(status, message, List.of());
  }

  ApiException(int status, String message, List<Violation> violations) {
    this(status, message, violations, Map.of());
  }

  private ApiException(
      int status, String message, List<Violation> violations, Map<String, String> headers) {
    super(message, null, false, false);
    this.status = status;
    this.violations = List.copyOf(violations);
    this.headers = Map.copyOf(headers);
  }

  /** A copy that also sends the response header {@code name}. */
  ApiException withHeader(String name, String value) {
    Map<String, String> more = new HashMap<>(headers);
    more.put(name, value);
    return new ApiException(status, getMessage(), violations, more);
  }

  /** 400, for one bad field. */
  static ApiException badField(String field, String message) {
    return new ApiException(400, "invalid request", List.of(new Violation(field, message)));
  }
}
