package io.batchkit.web.internal;

import io.batchkit.BatchValidationException.Violation;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import tools.jackson.databind.JsonNode;

/**
 * A JSON request body, read field by field: each field is checked for its JSON type as it is read,
 * fields the request does not have are refused, and every problem found is kept under its field, to
 * be answered together with one 400 ({@link #done}). For every route that takes a body ({@link
 * CreateRequest}, {@link PullRoutes}), so that all of them word the same problem the same way.
 */
final class BodyFields {
  private final JsonNode body;
  private final List<Violation> violations = new ArrayList<>();
  private final String what;

  /**
   * Reads {@code body}, noting each field not in {@code allowed}.
   *
   * @param what the request, with its article, as the messages name it ({@code "a poll request"})
   * @param optional whether a missing body (null, or JSON {@code null}) reads as one with no
   *     fields, each of which then takes its default
   * @throws ApiException 400 if the body is not a JSON object (or is missing and not {@code
   *     optional})
   */
  BodyFields(JsonNode body, Set<String> allowed, String what, boolean optional) {
    this.what = what;
    if (optional && (body == null || body.isNull() || body.isMissingNode())) {
      this.body = Json.MAPPER.createObjectNode();
      return;
    }
    if (body == null || !body.isObject()) {
      throw ApiException.badField("body", "must be a JSON object");
    }
    this.body = body;
    for (String name : body.propertyNames()) {
      if (!allowed.contains(name)) {
        violations.add(new Violation(name, "is not a field of " + what));
      }
    }
  }

  /** Returns the value of {@code field}, or null if it is absent or JSON {@code null}. */
  JsonNode get(String field) {
    JsonNode n = body.get(field);
    return n == null || n.isNull() ? null : n;
  }

  /**
   * Returns the string {@code field} holds, or null if it is absent or not a string (noting that,
   * or its absence when {@code required}).
   */
  String text(String field, boolean required) {
    JsonNode n = get(field);
    if (n == null) {
      if (required) {
        add(field, "is required");
      }
      return null;
    }
    if (!n.isString()) {
      add(field, "must be a string");
      return null;
    }
    return n.stringValue();
  }

  /**
   * Returns the whole number {@code field} holds, or null if it is absent or not a whole number
   * that fits an {@code int} (noting that).
   */
  Integer integer(String field) {
    JsonNode n = get(field);
    if (n == null) {
      return null;
    }
    if (!n.isIntegralNumber() || !n.canConvertToInt()) {
      add(field, "must be a whole number");
      return null;
    }
    return n.intValue();
  }

  /**
   * Returns the whole number {@code field} holds, or {@code otherwise} if it is absent or not a
   * whole number from {@code min} to {@code max} (noting that).
   */
  int integer(String field, int otherwise, int min, int max) {
    JsonNode n = get(field);
    if (n == null) {
      return otherwise;
    }
    if (!n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() < min || n.intValue() > max) {
      add(field, "must be a whole number from " + min + " to " + max);
      return otherwise;
    }
    return n.intValue();
  }

  /**
   * Returns the boolean {@code field} holds, or {@code otherwise} if it is absent or not a boolean
   * (noting that).
   */
  boolean bool(String field, boolean otherwise) {
    JsonNode n = get(field);
    if (n == null) {
      return otherwise;
    }
    if (!n.isBoolean()) {
      add(field, "must be true or false");
      return otherwise;
    }
    return n.booleanValue();
  }

  /** Notes a problem with {@code field}. */
  void add(String field, String problem) {
    violations.add(new Violation(field, problem));
  }

  /** Returns how many problems were noted so far. */
  int problems() {
    return violations.size();
  }

  /**
   * Answers 400 with every problem noted, if there is any.
   *
   * @throws ApiException 400 naming the request ({@code "invalid poll request"}) with each problem
   *     under its field
   */
  void done() {
    if (!violations.isEmpty()) {
      throw new ApiException(400, "invalid " + what.substring(what.indexOf(' ') + 1), violations);
    }
  }
}
