package io.batchkit.jdbc.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.sql.BatchUpdateException;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import org.junit.jupiter.api.Test;

/** What a failed transaction says about itself: never a payload or a result. */
class TransactionsTest {
  private static final String PAYLOAD = "secret payload 469";

  @Test
  void describe_aBatchUpdateCutByTheServer_namesTheStateNotTheStatement() {
    // what the PostgreSQL driver throws when pg_terminate_backend ends a batched UPDATE
    BatchUpdateException cut =
        new BatchUpdateException(
            "Batch entry 0 UPDATE jobs SET result = ('" + PAYLOAD + "') was aborted",
            "57P01",
            0,
            new int[0]);
    cut.setNextException(
        new SQLException("FATAL: terminating connection due to administrator command", "57P01"));

    String text = Transactions.describe(cut);

    assertFalse(text.contains(PAYLOAD), text);
    assertEquals(
        "SQL failed (BatchUpdateException, SQLState 57P01, vendor code 0): operator intervention"
            + " (e.g. the server ended the connection or is shutting down)",
        text);
  }

  @Test
  void describe_aConstraintViolationQuotingTheRow_leavesTheRowOut() {
    SQLException refused =
        new SQLException(
            "ERROR: new row violates check constraint. Detail: Failing row contains ("
                + PAYLOAD
                + ")",
            "23514");

    String text = Transactions.describe(refused);

    assertFalse(text.contains(PAYLOAD), text);
    assertEquals(
        "SQL failed (SQLException, SQLState 23514, vendor code 0): integrity constraint violation",
        text);
  }

  @Test
  void describe_aPoolTimeout_saysSo() {
    String text =
        Transactions.describe(
            new SQLTransientConnectionException("pool - Connection is not available"));

    assertEquals(
        "SQL failed (SQLTransientConnectionException, SQLState null, vendor code 0): no"
            + " connection available (the pool timed out)",
        text);
  }
}
