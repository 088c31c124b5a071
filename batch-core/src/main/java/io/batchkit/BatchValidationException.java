package io.batchkit;

import io.batchkit.internal.util.Checks;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Thrown when a {@link BatchRequest} is not acceptable. It lists every problem found, not just the
 * first, so a caller can fix them all at once. Nothing was stored.
 */
public class BatchValidationException extends BatchException {
  private static final long serialVersionUID = 1L;

  private final transient List<Violation> violations;

  /**
   * Creates the exception.
   *
   * @throws IllegalArgumentException if {@code violations} is empty
   */
  public BatchValidationException(List<Violation> violations) {
    super(describe(violations));
    this.violations = List.copyOf(violations);
  }

  /** Returns every problem found, in the order they were checked. */
  public List<Violation> violations() {
    return violations;
  }

  private static String describe(List<Violation> violations) {
    Checks.notNull(violations, "violations");
    if (violations.isEmpty()) {
      throw new IllegalArgumentException("violations must not be empty");
    }
    return "invalid batch request: "
        + violations.stream().map(Violation::toString).collect(Collectors.joining("; "));
  }

  /**
   * One problem with one field.
   *
   * @param field the field, as named in {@link BatchRequest.Builder}, for example {@code items[3]}
   * @param message what is wrong, with the limit and the value seen
   */
  public record Violation(String field, String message) {
    /**
     * Creates a violation.
     *
     * @throws NullPointerException if an argument is null
     */
    public Violation {
      Checks.notNull(field, "field");
      Checks.notNull(message, "message");
    }

    @Override
    public String toString() {
      return field + ": " + message;
    }
  }
}
