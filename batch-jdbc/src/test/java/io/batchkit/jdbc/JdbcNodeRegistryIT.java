package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.BatchId;
import io.batchkit.Job;
import io.batchkit.JobId;
import io.batchkit.JobStatus;
import io.batchkit.Node;
import io.batchkit.Progress;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.JobStore;
import io.batchkit.spi.NodeRegistryContractTest;
import io.batchkit.testkit.Stores;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The registry-of-nodes contract on each database, plus how each tells a dead node: on PostgreSQL
 * and MariaDB a node whose lock session ended (its pool was closed, which aborts the connection as
 * a killed process would) is found dead and its jobs come back, long before their lease; on H2 a
 * node that stopped reporting is marked dead and its jobs wait for their lease.
 */
class JdbcNodeRegistryIT {

  @Nested
  class OnH2 extends OnDatabase {
    OnH2() {
      super(TestDatabases::h2, false);
    }

    @Test
    void nodeOfAnotherStoreInstance_thatStoppedReporting_isMarkedDead_andKeepsItsJobs() {
      JdbcJobStore other = otherInstance(dataSource);
      other.registerNode(Node.starting(NODE_B, "host", "1", 4, at(1)));
      BatchId id = insert(2, 3);
      assertEquals(2, claimOn(other, NODE_B, 2).size());

      // the store marks stale nodes at a pace of its own: ask until it did, within seconds
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (store.listNodes().get(0).isLive() && System.nanoTime() < deadline) {
        store.reapDeadNodes(at(100), at(50), at(0));
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
      }

      Node b = store.listNodes().get(0);
      assertEquals(NODE_B, b.nodeId());
      assertEquals(Node.Status.DEAD, b.status());
      assertEquals(new Progress(2, 0, 2, 0, 0, 0), batchOf(id).progress(), "leases rule H2");
    }
  }

  @Nested
  class OnPostgres extends OnDatabase {
    OnPostgres() {
      super(() -> TestDatabases.postgres(4), true);
    }

    @Test
    void nodeWhoseSessionEnded_isFoundDead_andItsJobsComeBackBeforeTheirLease() throws Exception {
      sessionEnds(TestDatabases.postgres(3));
    }

    @Test
    void twoNodesWhoseSessionsEnded_atOnce_bothGiveBackEveryJob() {
      twoSessionsEnd(TestDatabases.postgres(3), TestDatabases.postgres(3));
    }

    @Test
    void nodeRunningWithoutSessionLiveness_isNeverTakenForDead_byNodesWithIt() {
      withoutLock();
    }
  }

  @Nested
  class OnMariaDb extends OnDatabase {
    OnMariaDb() {
      super(() -> TestDatabases.mariadb(4), true);
    }

    @Test
    void nodeWhoseSessionEnded_isFoundDead_andItsJobsComeBackBeforeTheirLease() throws Exception {
      sessionEnds(TestDatabases.mariadb(3));
    }

    @Test
    void twoNodesWhoseSessionsEnded_atOnce_bothGiveBackEveryJob() {
      twoSessionsEnd(TestDatabases.mariadb(3), TestDatabases.mariadb(3));
    }

    @Test
    void nodeRunningWithoutSessionLiveness_isNeverTakenForDead_byNodesWithIt() {
      withoutLock();
    }
  }

  /** One database: the tables are created once per class and emptied before each test. */
  @TestInstance(TestInstance.Lifecycle.PER_CLASS)
  abstract static class OnDatabase extends NodeRegistryContractTest {
    private final String prefix = TestDatabases.uniquePrefix();
    private final Supplier<DataSource> open;
    private final boolean signal;
    protected DataSource dataSource;
    private JdbcJobStore jdbcStore;

    OnDatabase(Supplier<DataSource> open, boolean signal) {
      this.open = open;
      this.signal = signal;
    }

    /**
     * A node registered through another store instance, on {@code pool}, holds three jobs; while
     * its session lives, however often this instance looks past the grace period, it keeps them;
     * once the pool is closed (which aborts its connections, as the death of its process would), it
     * is found dead and its jobs are queued again, minutes before their lease ends.
     */
    void sessionEnds(HikariDataSource pool) {
      BatchId id;
      try (pool) {
        JdbcJobStore other = otherInstance(pool);
        other.registerNode(Node.starting(NODE_B, "host-b", "1", 4, at(1)));
        id = insert(3, 3);
        assertEquals(3, claimOn(other, NODE_B, 3).size());

        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1_500);
        while (System.nanoTime() < until) {
          assertEquals(List.of(), store.reapDeadNodes(at(2), at(0), at(0)).batches());
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
        }
        assertEquals(new Progress(3, 0, 3, 0, 0, 0), batchOf(id).progress(), "alive, it kept them");
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (batchOf(id).progress().processing() > 0 && System.nanoTime() < deadline) {
        store.reapDeadNodes(at(3), at(0), at(0));
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
      }
      // at(3) is minutes before the five-minute leases end: only the ended session explains it
      assertEquals(new Progress(3, 3, 0, 0, 0, 0), batchOf(id).progress());
      for (Job job : Stores.allJobs(store, id)) {
        assertEquals(JobStatus.QUEUED, job.status());
        assertEquals(1, job.attempt());
        assertTrue(job.error().orElseThrow().contains(NODE_B + " died"), job.error().toString());
      }
      Node b =
          store.listNodes().stream()
              .filter(n -> n.nodeId().equals(NODE_B))
              .findFirst()
              .orElseThrow();
      assertEquals(Node.Status.DEAD, b.status());
      assertEquals(Optional.of(at(3)), b.endedAt());
    }

    /**
     * Two nodes, each registered through a store instance of its own, hold the jobs of two batches
     * between them, one batch's jobs on both nodes and one node's jobs in both batches; both pools
     * close at once (two processes killed together), so a reaping usually finds them dead together,
     * and every job they held comes back, each with its own holder in its error. (It shows the
     * reaping's result; the lock cycle that taking back from both nodes in one pass avoids needs an
     * outcome statement in between, which this test does not race.)
     */
    void twoSessionsEnd(HikariDataSource poolB, HikariDataSource poolC) {
      String nodeC = "node-c";
      BatchId first;
      BatchId second;
      Map<JobId, String> holders = new HashMap<>();
      try (poolB;
          poolC) {
        JdbcJobStore b = otherInstance(poolB);
        JdbcJobStore other = otherInstance(poolC);
        b.registerNode(Node.starting(NODE_B, "host-b", "1", 4, at(1)));
        other.registerNode(Node.starting(nodeC, "host-c", "1", 4, at(1)));
        first = insert(3, 3);
        second = insert(3, 3);
        // a claim takes from the batch served longest ago first: two, two, then one of each
        Map<JobId, BatchId> batchOf = new HashMap<>();
        for (int[] step : new int[][] {{0, 2}, {1, 2}, {0, 2}}) {
          JdbcJobStore on = step[0] == 0 ? b : other;
          String node = step[0] == 0 ? NODE_B : nodeC;
          for (ClaimedJob job : claimOn(on, node, step[1])) {
            holders.put(job.id(), node);
            batchOf.put(job.id(), job.batchId());
          }
        }
        assertEquals(6, holders.size(), "the nodes hold every job");
        Map<String, Set<BatchId>> batchesOf = new HashMap<>();
        Map<BatchId, Set<String>> nodesOf = new HashMap<>();
        holders.forEach(
            (job, node) -> {
              batchesOf.computeIfAbsent(node, n -> new HashSet<>()).add(batchOf.get(job));
              nodesOf.computeIfAbsent(batchOf.get(job), n -> new HashSet<>()).add(node);
            });
        assertTrue(batchesOf.values().stream().anyMatch(x -> x.size() == 2), batchesOf.toString());
        assertTrue(nodesOf.values().stream().anyMatch(x -> x.size() == 2), nodesOf.toString());
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (batchOf(first).progress().processing() + batchOf(second).progress().processing() > 0
          && System.nanoTime() < deadline) {
        store.reapDeadNodes(at(3), at(0), at(0));
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
      }
      for (BatchId id : List.of(first, second)) {
        assertEquals(new Progress(3, 3, 0, 0, 0, 0), batchOf(id).progress());
        for (Job job : Stores.allJobs(store, id)) {
          assertEquals(JobStatus.QUEUED, job.status());
          String error = job.error().orElseThrow();
          assertTrue(error.contains(holders.get(job.id()) + " died"), error);
        }
      }
      for (Node node : store.listNodes()) {
        assertEquals(Node.Status.DEAD, node.status(), node.toString());
      }
    }

    /**
     * A node of a store built with {@code sessionLiveness(false)} (behind PgBouncer, say) holds no
     * lock; the nodes that hold theirs never read that as death, however long they look.
     */
    void withoutLock() {
      JdbcJobStore lockless =
          JdbcJobStore.builder(dataSource).tablePrefix(prefix).sessionLiveness(false).build();
      lockless.registerNode(Node.starting(NODE_B, "host-b", "1", 4, at(1)));
      BatchId id = insert(2, 3);
      assertEquals(2, claimOn(lockless, NODE_B, 2).size());

      long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1_500);
      while (System.nanoTime() < until) {
        assertEquals(List.of(), store.reapDeadNodes(at(2), at(0), at(0)).batches());
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
      }
      assertEquals(new Progress(2, 0, 2, 0, 0, 0), batchOf(id).progress());
      assertTrue(store.listNodes().get(0).isLive(), store.listNodes().toString());
      lockless.deregisterNode(NODE_B, at(3));
    }

    @Override
    protected JobStore newStore() {
      try {
        if (jdbcStore == null) {
          dataSource = open.get();
          jdbcStore =
              JdbcJobStore.builder(dataSource).tablePrefix(prefix).createSchema(true).build();
        } else {
          TestDatabases.clear(dataSource, prefix);
        }
        return jdbcStore;
      } catch (SQLException e) {
        throw new IllegalStateException(e);
      }
    }

    @Override
    protected boolean hasSessionSignal() {
      return signal;
    }

    /** Another store instance on the same tables: another process, as far as the store knows. */
    JdbcJobStore otherInstance(DataSource on) {
      return JdbcJobStore.builder(on).tablePrefix(prefix).build();
    }

    List<ClaimedJob> claimOn(JobStore on, String nodeId, int maxJobs) {
      JobStore saved = store;
      store = on;
      try {
        return claim(nodeId, maxJobs, at(1));
      } finally {
        store = saved;
      }
    }

    @AfterAll
    void dropTables() throws Exception {
      if (dataSource != null) {
        TestDatabases.drop(dataSource, prefix);
        if (dataSource instanceof AutoCloseable closeable) {
          closeable.close();
        }
      }
    }
  }
}
