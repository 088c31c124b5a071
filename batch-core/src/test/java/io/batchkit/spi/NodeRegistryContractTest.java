package io.batchkit.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchStatus;
import io.batchkit.Job;
import io.batchkit.JobStatus;
import io.batchkit.Node;
import io.batchkit.Progress;
import io.batchkit.StoreStatistics;
import io.batchkit.testkit.Stores;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The contract of the registry of nodes ({@link JobStore#registerNode} and the methods after it),
 * kept apart from {@link JobStoreContractTest} so that each file reads as one subject. A store
 * joins by extending this class; {@link #hasSessionSignal()} says which of the two rules for
 * telling a dead node applies. Ships in batch-core's test-jar.
 */
public abstract class NodeRegistryContractTest {
  protected static final Instant T0 = JobStoreContractTest.T0;
  protected static final String NODE_A = "node-a";
  protected static final String NODE_B = "node-b";

  /** The store under test. */
  protected JobStore store;

  private final List<String> registered = new ArrayList<>();

  /** Returns a new, empty store (its registry empty too). Called once before each test. */
  protected abstract JobStore newStore();

  /**
   * Whether the store tells live nodes by a session signal (see {@link JobStore#reapDeadNodes}).
   */
  protected abstract boolean hasSessionSignal();

  @BeforeEach
  void createStore() {
    store = newStore();
  }

  /** Deregisters what the test registered, so that a shared store starts the next test clean. */
  @AfterEach
  protected void deregisterAll() {
    for (String id : registered) {
      store.deregisterNode(id, at(3600));
    }
  }

  @Test
  void registerNode_listsTheNodeLive_withWhatItReported() {
    Node node = Node.starting(NODE_A, "host-1", "1.2.3", 8, at(1));
    assertEquals(List.of(), register(node).batches());

    assertEquals(List.of(node), store.listNodes());
  }

  @Test
  void storeStatistics_countsStartedBatchesJobs_andWhatNodesReportedForTheLastHour() {
    register(Node.starting(NODE_A, "host-a", "1", 4, at(1)));
    register(Node.starting(NODE_B, "host-b", "1", 4, at(1)));
    insert(3, 1);
    claim(NODE_A, 1, at(1));
    Batch pending = JobStoreContractTest.batch(5).status(BatchStatus.PENDING).build();
    store.insertBatch(pending, JobStoreContractTest.jobs(5));
    store.nodeHeartbeat(
        new Node(
            NODE_A, "host-a", "1", 4, 1, at(1), at(100), Node.Status.LIVE, Optional.empty(), 7, 2));
    store.nodeHeartbeat(
        new Node(
            NODE_B, "host-b", "1", 4, 0, at(1), at(50), Node.Status.LIVE, Optional.empty(), 3, 1));

    StoreStatistics both = store.storeStatistics(at(40));

    assertEquals(new StoreStatistics(2, 1, 10, 3), both);
    assertEquals(3 / 13.0, both.failureRateLastHour(), 1e-9);
    assertEquals(
        new StoreStatistics(2, 1, 7, 2),
        store.storeStatistics(at(60)),
        "a node whose last report is before the hour is left out");
    Node a =
        store.listNodes().stream().filter(n -> n.nodeId().equals(NODE_A)).findFirst().orElseThrow();
    assertEquals(7, a.succeededLastHour());
    assertEquals(2, a.failedLastHour());
    assertThrows(NullPointerException.class, () -> store.storeStatistics(null));
  }

  @Test
  void registerNode_checksItsArgument() {
    assertThrows(NullPointerException.class, () -> store.registerNode(null));
    Node stopped =
        new Node(NODE_A, "h", "v", 1, 0, at(1), at(1), Node.Status.STOPPED, Optional.of(at(2)));
    assertThrows(IllegalArgumentException.class, () -> store.registerNode(stopped));
    assertThrows(IllegalArgumentException.class, () -> store.nodeHeartbeat(stopped));
    assertThrows(NullPointerException.class, () -> store.nodeHeartbeat(null));
    assertThrows(NullPointerException.class, () -> store.deregisterNode(null, at(1)));
    assertThrows(NullPointerException.class, () -> store.deregisterNode(NODE_A, null));
    assertThrows(NullPointerException.class, () -> store.reapDeadNodes(null, at(1), at(1)));
    assertThrows(NullPointerException.class, () -> store.reapDeadNodes(at(1), null, at(1)));
    assertThrows(NullPointerException.class, () -> store.reapDeadNodes(at(1), at(1), null));
    assertEquals(List.of(), store.listNodes());
  }

  @Test
  void registerNode_whileALiveNodeUsesTheId_isRefused_andChangesNothing() {
    Node first = Node.starting(NODE_A, "host-1", "1", 4, at(1));
    register(first);

    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () -> store.registerNode(Node.starting(NODE_A, "host-2", "1", 4, at(2))));
    assertTrue(e.getMessage().contains(NODE_A), e.getMessage());
    assertEquals(List.of(first), store.listNodes());
  }

  @Test
  void deregisterNode_marksItStopped_andTheIdCanRegisterAgain() {
    register(Node.starting(NODE_A, "host-1", "1", 4, at(1)));
    store.deregisterNode(NODE_A, at(5));
    store.deregisterNode("never-registered", at(5)); // does nothing

    Node stopped = only(store.listNodes());
    assertEquals(Node.Status.STOPPED, stopped.status());
    assertEquals(Optional.of(at(5)), stopped.endedAt());

    Node again = Node.starting(NODE_A, "host-2", "2", 6, at(9));
    register(again);
    assertEquals(List.of(again), store.listNodes());
  }

  @Test
  void registerNode_takesBackAtOnceTheJobsItsFormerSelfStillHolds_andNoOtherNodes() {
    register(Node.starting(NODE_A, "host", "1", 4, at(1)));
    BatchId twoAttempts = insert(3, 2);
    BatchId lastAttempt = insert(1, 1);
    List<ClaimedJob> onA = claim(NODE_A, 4, at(2));
    assertEquals(4, onA.size());
    store.deregisterNode(NODE_A, at(3)); // as if it had died: the row stays, the jobs stay leased
    registered.remove(NODE_A);
    BatchId others = insert(2, 3);
    assertEquals(2, claim(NODE_B, 2, at(4)).size());

    // its lease runs for minutes more, but the node that starts with its id is its successor
    CompletionResult released = register(Node.starting(NODE_A, "host", "1", 4, at(5)));

    assertEquals(
        Set.of(twoAttempts, lastAttempt),
        Set.copyOf(released.batches().stream().map(Batch::id).toList()));
    assertEquals(new Progress(3, 3, 0, 0, 0, 0), batchOf(twoAttempts).progress());
    for (Job job : Stores.allJobs(store, twoAttempts)) {
      assertEquals(JobStatus.QUEUED, job.status(), "job " + job.id());
      assertEquals(1, job.attempt(), "the interrupted attempt stays counted");
      assertTrue(job.error().orElseThrow().contains(NODE_A), job.error().toString());
    }
    Job failed = only(Stores.allJobs(store, lastAttempt));
    assertEquals(JobStatus.FAILED, failed.status(), "no attempt was left");
    assertEquals(new Progress(2, 0, 2, 0, 0, 0), batchOf(others).progress());
    assertEquals(3, claim(NODE_A, 10, at(6)).size(), "the queued jobs are claimable at once");
  }

  @Test
  void nodeHeartbeat_updatesTheRow_andTellsWhetherItWasLive() {
    Node node = Node.starting(NODE_A, "host", "1", 4, at(1));
    register(node);

    Node later =
        new Node(NODE_A, "host", "1", 4, 3, at(1), at(20), Node.Status.LIVE, Optional.empty());
    assertTrue(store.nodeHeartbeat(later));
    assertEquals(List.of(later), store.listNodes());
  }

  @Test
  void nodeHeartbeat_ofANodeNotRegisteredHereOrStopped_changesNothing() {
    assertFalse(store.nodeHeartbeat(Node.starting(NODE_B, "host", "1", 2, at(1))));
    assertEquals(List.of(), store.listNodes(), "an unknown node is not added");

    register(Node.starting(NODE_A, "host", "1", 4, at(1)));
    store.deregisterNode(NODE_A, at(5));
    Node late =
        new Node(NODE_A, "host", "1", 4, 0, at(1), at(6), Node.Status.LIVE, Optional.empty());
    assertFalse(store.nodeHeartbeat(late), "a stopped node is not brought back");
    assertEquals(Node.Status.STOPPED, only(store.listNodes()).status());
  }

  @Test
  void reapDeadNodes_forgetsNodesThatEndedBeforeTheRetention_andKeepsTheOthers() {
    register(Node.starting(NODE_A, "host", "1", 4, at(1)));
    register(Node.starting(NODE_B, "host", "1", 4, at(1)));
    store.deregisterNode(NODE_B, at(10));

    store.reapDeadNodes(at(20), at(0), at(10)); // ended at 10: not before 10
    assertEquals(2, store.listNodes().size());

    // the store may tidy up at a pace of its own: ask until it did, within a few seconds
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (store.listNodes().size() > 1 && System.nanoTime() < deadline) {
      store.reapDeadNodes(at(20), at(0), at(11));
      Thread.onSpinWait();
    }
    assertEquals(List.of(NODE_A), store.listNodes().stream().map(Node::nodeId).toList());
  }

  @Test
  void requeueExpired_leavesTheJobsOfANodeThatHoldsItsSignalAndReports_onlyOnAStoreWithOne() {
    register(Node.starting(NODE_A, "host", "1", 4, at(1)));
    BatchId id = insert(2, 3);
    assertEquals(2, claim(NODE_A, 2, at(2)).size()); // leased for five minutes
    Instant pastTheLease = at(2).plus(Duration.ofMinutes(5)).plusSeconds(50);
    store.nodeHeartbeat(reporting(pastTheLease));

    CompletionResult result = store.requeueExpired(pastTheLease, 10);

    if (hasSessionSignal()) {
      assertEquals(List.of(), result.batches(), "a live node keeps its jobs past their lease");
      assertEquals(new Progress(2, 0, 2, 0, 0, 0), batchOf(id).progress());
    } else {
      assertEquals(new Progress(2, 2, 0, 0, 0, 0), batchOf(id).progress());
    }
  }

  @Test
  void requeueExpired_takesAJobWhoseLeaseIsLongOver_evenFromANodeThatReports() {
    register(Node.starting(NODE_A, "host", "1", 4, at(1)));
    BatchId id = insert(2, 3);
    assertEquals(2, claim(NODE_A, 2, at(2)).size()); // leased for five minutes
    // the node reports, but has not renewed these leases for over a minute past their end: it
    // renews every lease it knows of, so it does not know of these (its claim's answer was lost)
    Instant longAfterTheLease = at(2).plus(Duration.ofDays(1));
    store.nodeHeartbeat(reporting(longAfterTheLease));

    store.requeueExpired(longAfterTheLease, 10);

    assertEquals(new Progress(2, 2, 0, 0, 0, 0), batchOf(id).progress());
  }

  /** {@link #NODE_A} as it reports at {@code when}, running two jobs. */
  private static Node reporting(Instant when) {
    return new Node(NODE_A, "host", "1", 4, 2, at(1), when, Node.Status.LIVE, Optional.empty());
  }

  @Test
  void requeueExpired_takesTheJobsOfANodeThatHoldsItsSignalButStoppedReporting() {
    register(Node.starting(NODE_A, "host", "1", 4, at(1)));
    BatchId id = insert(2, 3);
    assertEquals(2, claim(NODE_A, 2, at(2)).size());

    // its last report was at(1), a day before: a dispatcher that hangs is not trusted for ever
    store.requeueExpired(at(2).plus(Duration.ofDays(1)), 10);

    assertEquals(new Progress(2, 2, 0, 0, 0, 0), batchOf(id).progress());
  }

  @Test
  void listNodes_putsLiveNodesFirst_thenOrdersById() {
    register(Node.starting("n-c", "host", "1", 1, at(1)));
    register(Node.starting("n-a", "host", "1", 1, at(1)));
    register(Node.starting("n-b", "host", "1", 1, at(1)));
    store.deregisterNode("n-a", at(2));

    assertEquals(
        List.of("n-b", "n-c", "n-a"), store.listNodes().stream().map(Node::nodeId).toList());
  }

  // ---------------------------------------------------------------------------------------------
  // helpers

  protected static Instant at(long seconds) {
    return JobStoreContractTest.at(seconds);
  }

  /** Registers a node, to be deregistered after the test. */
  protected CompletionResult register(Node node) {
    CompletionResult result = store.registerNode(node);
    registered.add(node.nodeId());
    return result;
  }

  /** Inserts a started batch of {@code jobs} jobs that may each be tried {@code attempts} times. */
  protected BatchId insert(int jobs, int attempts) {
    Batch batch = JobStoreContractTest.batch(jobs).maxAttempts(attempts).build();
    assertTrue(store.insertBatch(batch, JobStoreContractTest.jobs(jobs)).created());
    return batch.id();
  }

  protected List<ClaimedJob> claim(String nodeId, int maxJobs, Instant now) {
    return store.claim(
        new ClaimRequest(
            nodeId,
            maxJobs,
            now,
            now.plus(Duration.ofMinutes(5)),
            Duration.ofMinutes(1),
            Map.of(JobStoreContractTest.JOB_TYPE, maxJobs)));
  }

  protected Batch batchOf(BatchId id) {
    return store.findBatch(id).orElseThrow();
  }

  private static <T> T only(List<T> items) {
    assertEquals(1, items.size(), "one item: " + items);
    return items.get(0);
  }
}
