package io.batchkit.internal.memory;

import io.batchkit.Node;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The in-memory store's registry of nodes. Every node of an in-memory store lives in the store's
 * JVM, and none can die without the store, so a node is live until it deregisters, and never dead.
 * A class of its own so that the registry's rules are read apart from the jobs'.
 *
 * <p>Ownership: its one field is guarded by this object's monitor; it never calls out while holding
 * it.
 */
final class InMemoryNodes {
  private static final Comparator<Node> LIVE_FIRST =
      Comparator.comparing((Node n) -> !n.isLive()).thenComparing(Node::nodeId);

  private final Map<String, Node> nodes = new HashMap<>();

  /**
   * Adds {@code node}, replacing a row left by a former node with its id.
   *
   * @throws IllegalStateException if a live node has this id
   */
  synchronized void register(Node node) {
    Node existing = nodes.get(node.nodeId());
    if (existing != null && existing.isLive()) {
      throw new IllegalStateException(
          "node id '" + node.nodeId() + "' is in use by a live service on this store");
    }
    nodes.put(node.nodeId(), node);
  }

  /** Replaces the row of a live node; returns whether it was live (else changes nothing). */
  synchronized boolean heartbeat(Node node) {
    Node existing = nodes.get(node.nodeId());
    if (existing == null || !existing.isLive()) {
      return false;
    }
    nodes.put(node.nodeId(), node);
    return true;
  }

  /** Forgets nodes that ended before {@code forgetBefore}. */
  synchronized void forget(Instant forgetBefore) {
    nodes.values().removeIf(n -> n.endedAt().map(t -> t.isBefore(forgetBefore)).orElse(false));
  }

  /** Marks a live node stopped; does nothing for another id. */
  synchronized void deregister(String nodeId, Instant now) {
    nodes.computeIfPresent(nodeId, (id, n) -> n.isLive() ? ended(n, Node.Status.STOPPED, now) : n);
  }

  synchronized List<Node> list() {
    List<Node> all = new ArrayList<>(nodes.values());
    all.sort(LIVE_FIRST);
    return all;
  }

  private static Node ended(Node n, Node.Status status, Instant at) {
    Instant end = at.isBefore(n.lastHeartbeat()) ? n.lastHeartbeat() : at;
    return new Node(
        n.nodeId(),
        n.host(),
        n.version(),
        n.slots(),
        n.running(),
        n.startedAt(),
        n.lastHeartbeat(),
        status,
        Optional.of(end),
        n.succeededLastHour(),
        n.failedLastHour());
  }
}
