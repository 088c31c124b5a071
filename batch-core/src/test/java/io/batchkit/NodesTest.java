package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.spi.JobStore;
import io.batchkit.testkit.Await;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The node record's checks, and the registry as a service sees it through {@link BatchService}. */
class NodesTest {
  private static final Instant T = Instant.parse("2030-01-01T00:00:00Z");

  @Test
  void node_checksEveryField() {
    assertThrows(
        IllegalArgumentException.class, () -> Node.starting(" ", "host", "1", 1, T), "blank id");
    assertThrows(
        IllegalArgumentException.class,
        () -> Node.starting("n".repeat(Node.MAX_TEXT_LENGTH + 1), "host", "1", 1, T));
    assertThrows(IllegalArgumentException.class, () -> Node.starting("n", "host", "1", 0, T));
    assertThrows(NullPointerException.class, () -> Node.starting("n", null, "1", 1, T));
    assertThrows(NullPointerException.class, () -> Node.starting("n", "host", "1", 1, null));
    assertThrows(
        IllegalArgumentException.class,
        () -> new Node("n", "h", "1", 1, -1, T, T, Node.Status.LIVE, Optional.empty()));
    assertThrows(
        IllegalArgumentException.class,
        () ->
            new Node("n", "h", "1", 1, 0, T, T.minusMillis(1), Node.Status.LIVE, Optional.empty()),
        "a heartbeat before the start");
    assertThrows(
        IllegalArgumentException.class,
        () -> new Node("n", "h", "1", 1, 0, T, T, Node.Status.LIVE, Optional.of(T)),
        "a live node with an end");
    assertThrows(
        IllegalArgumentException.class,
        () -> new Node("n", "h", "1", 1, 0, T, T, Node.Status.DEAD, Optional.empty()),
        "a dead node without an end");
    assertTrue(Node.starting("n", "h", "1", 1, T).isLive());
  }

  @Test
  void jobsOfWorkers_countInTheFiguresOfTheNodeTheyReportedThrough() {
    JobStore store = JobStore.inMemory();
    try (BatchService node =
        BatchService.builder()
            .store(store)
            .discoverProcessors(false)
            .nodeId("serving-node")
            .allowUnknownJobTypes(true)
            .build()) {
      node.submit(BatchRequest.builder("gpu").items(List.of("a", "b", "c")).maxAttempts(1).build());
      List<LeasedJob> leased = node.poll("gpu", 3, Duration.ofMinutes(1));
      assertTrue(node.complete(leased.get(0).token(), "ok"));
      assertTrue(node.complete(leased.get(1).token(), "ok"));
      assertTrue(node.fail(leased.get(2).token(), "no", true)); // no attempt left: failed for good

      // the node reports its figures with its heartbeat, every few seconds
      Await.until(
          "the node reports the workers' jobs",
          () -> {
            Node n = node.nodes().get(0);
            return n.succeededLastHour() == 2 && n.failedLastHour() == 1;
          });
    }
  }

  @Test
  void services_registerWhenBuilt_andAreMarkedStoppedWhenClosed() {
    JobStore store = JobStore.inMemory();
    try (BatchService a = service(store, "node-a", 3);
        BatchService b = service(store, "node-b", 5)) {
      List<Node> nodes = a.nodes();
      assertEquals(List.of("node-a", "node-b"), nodes.stream().map(Node::nodeId).toList());
      assertTrue(nodes.stream().allMatch(Node::isLive), nodes.toString());
      assertEquals(3, nodes.get(0).slots());
      assertEquals(5, nodes.get(1).slots());
      assertTrue(nodes.get(0).version().length() > 0);
      b.close();
      Node stopped = a.nodes().get(1);
      assertEquals(Node.Status.STOPPED, stopped.status());
      assertTrue(stopped.endedAt().isPresent());
    }
    assertEquals(2, store.listNodes().stream().filter(n -> !n.isLive()).count());
  }

  @Test
  void buildingAServiceWithTheIdOfALiveOne_fails_andTheIdIsFreeOnceItClosed() {
    JobStore store = JobStore.inMemory();
    try (BatchService first = service(store, "twin", 2)) {
      IllegalStateException e =
          assertThrows(IllegalStateException.class, () -> service(store, "twin", 2));
      assertTrue(e.getMessage().contains("twin"), e.getMessage());
      assertEquals(1, first.nodes().size());
    }
    try (BatchService again = service(store, "twin", 4)) {
      assertEquals(4, again.nodes().get(0).slots());
      assertTrue(again.nodes().get(0).isLive());
    }
  }

  @Test
  void nodes_onAClosedService_fails() {
    BatchService service = service(JobStore.inMemory(), "closed", 1);
    service.close();
    assertThrows(IllegalStateException.class, service::nodes);
  }

  private static BatchService service(JobStore store, String nodeId, int slots) {
    return BatchService.builder()
        .store(store)
        .discoverProcessors(false)
        .nodeId(nodeId)
        .maxConcurrency(slots)
        .processor("t", ctx -> "ok")
        .build();
  }
}
