/**
 * batchkit's public API: {@link io.batchkit.BatchService} and its builder, {@link
 * io.batchkit.BatchRequest}, the snapshots {@link io.batchkit.Batch}, {@link io.batchkit.Job} and
 * {@link io.batchkit.Progress}, the user's {@link io.batchkit.JobProcessor} and {@link
 * io.batchkit.BatchListener}, and the exceptions. Everything here is supported and kept compatible.
 *
 * <pre>{@code
 * try (BatchService service = BatchService.builder().processor("greet", ctx -> "hi " + ctx.payload()).build()) {
 *   Batch batch = service.submit(BatchRequest.builder("greet").items(List.of("Ada", "Linus")).build());
 *   service.awaitCompletion(batch.id(), Duration.ofMinutes(1));
 * }
 * }</pre>
 */
package io.batchkit;
