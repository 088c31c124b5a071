package io.batchkit.web.internal;

import io.batchkit.BatchValidationException.Violation;
import java.util.List;

/**
 * A request the API refuses: its HTTP status and what the response body says. The message names
 * what was wrong with the request; it never carries a payload, a stack trace or a server detail.
 */
final class ApiException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  final int status;
  final transient List<Violation> violations;

  ApiException(int status, String message) {
    this(status, message, List.of());
  }

  ApiException(int status, String message, List<Violation> violations) {
    super(message, null, false, false);
    this.status = status;
    this.violations = List.copyOf(violations);
  }

  /** 400, for one bad field. */
  static ApiException badField(String field, String message) {
    return new ApiException(400, "invalid request", List.of(new Violation(field, message)));
  }
}
