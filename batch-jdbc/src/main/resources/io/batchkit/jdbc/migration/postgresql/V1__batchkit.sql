-- batchkit schema for PostgreSQL 12+, version 1: a Flyway migration in
-- classpath:io/batchkit/jdbc/migration/postgresql (outside db/migration, so that an application's
-- Flyway, which scans db/migration with its subfolders by default, never finds it by chance).
-- Table names start with the prefix "batchkit_", which JdbcJobStore.builder().tablePrefix(...)
-- replaces when createSchema(true) runs these files itself. Later versions of the schema come as
-- further files V2__..., V3__... beside this one; never edit a released version. Times are UTC;
-- *_ms columns are Unix milliseconds.

CREATE TABLE IF NOT EXISTS batchkit_batches (
  id                  UUID PRIMARY KEY,
  name                VARCHAR(200) NOT NULL,
  job_type            VARCHAR(100) NOT NULL,
  priority            SMALLINT NOT NULL,
  metadata            TEXT NOT NULL,
  max_concurrency     INTEGER NOT NULL,
  max_attempts        INTEGER NOT NULL,
  job_timeout_ms      BIGINT NOT NULL,
  policy_max_failures INTEGER NOT NULL,
  policy_max_ratio    DOUBLE PRECISION NOT NULL,
  idempotency_key     VARCHAR(200) UNIQUE,
  status              VARCHAR(16) NOT NULL,
  total               BIGINT NOT NULL,
  queued              BIGINT NOT NULL,
  processing          BIGINT NOT NULL,
  succeeded           BIGINT NOT NULL,
  failed              BIGINT NOT NULL,
  cancelled           BIGINT NOT NULL,
  created_at          TIMESTAMP WITH TIME ZONE NOT NULL,
  started_at          TIMESTAMP WITH TIME ZONE,
  updated_at          TIMESTAMP WITH TIME ZONE NOT NULL,
  completed_at        TIMESTAMP WITH TIME ZONE,
  last_served_ms      BIGINT NOT NULL,
  served_seq          BIGINT NOT NULL,
  -- the slots all nodes hold (the sum of held in batchkit_slots), at most max_concurrency
  slots_held          INTEGER NOT NULL DEFAULT 0,
  -- the events its webhooks are told of: STARTED 1, CANCELLED 2, FINISHED 4 (0: no webhooks)
  webhook_events      INTEGER NOT NULL DEFAULT 0,
  -- how many of the jobs fetched ahead (batchkit_fetched) queued and processing show already
  absorbed            BIGINT NOT NULL DEFAULT 0
);

-- claim: started batches with queued jobs and free slots, in dispatch order
CREATE INDEX IF NOT EXISTS batchkit_batches_claim ON batchkit_batches (status, job_type);
-- listBatches: newest first
CREATE INDEX IF NOT EXISTS batchkit_batches_created ON batchkit_batches (created_at, id);

CREATE TABLE IF NOT EXISTS batchkit_batch_metadata (
  batch_id   UUID NOT NULL,
  meta_key   VARCHAR(100) NOT NULL,
  meta_value VARCHAR(1000) NOT NULL,
  PRIMARY KEY (batch_id, meta_key)
);

-- listBatches filtered by a metadata key and value
CREATE INDEX IF NOT EXISTS batchkit_batch_metadata_kv ON batchkit_batch_metadata (meta_key, meta_value);

CREATE TABLE IF NOT EXISTS batchkit_jobs (
  id            UUID PRIMARY KEY,
  batch_id      UUID NOT NULL,
  seq           INTEGER NOT NULL,
  payload       TEXT NOT NULL,
  status        VARCHAR(16) NOT NULL,
  attempt       INTEGER NOT NULL,
  fencing_token BIGINT NOT NULL,
  owner         VARCHAR(100),
  lease_until   TIMESTAMP WITH TIME ZONE,
  run_at        TIMESTAMP WITH TIME ZONE NOT NULL,
  result        TEXT,
  error         TEXT,
  started_at    TIMESTAMP WITH TIME ZONE,
  finished_at   TIMESTAMP WITH TIME ZONE,
  updated_at    TIMESTAMP WITH TIME ZONE NOT NULL,
  -- the progress the running attempt whose fencing token is progress_token last reported
  progress         DOUBLE PRECISION,
  progress_message VARCHAR(500),
  progress_at      TIMESTAMP WITH TIME ZONE,
  progress_token   BIGINT
);

-- Every claim and every outcome changes a job's status, so neither update of a job row is HOT: each
-- writes an entry in every index of the table that holds the new row. So the table has as few
-- indexes as its statements need, and the indexes on status are partial: running jobs are in
-- jobs_running only, the others in jobs_status only, so a job's claim and its outcome write two
-- entries each (the key and one of the two), where full indexes on (batch, status, seq) and
-- (status, lease_until) and a unique index on (batch, seq) took four each; and a lease renewal,
-- which changes no indexed column, can be HOT. A batch's jobs of every status are found one status
-- at a time, each from its index (deleteBatch; listJobs merges them in seq order); the seqs of a
-- batch's jobs are unique without an index, as every insert numbers them holding the batch row.
-- Statements name the status as a literal, never a parameter: a plan made for any parameter value
-- cannot use a partial index.
-- Schemas made by earlier snapshots had the full indexes, and the one on (batch, seq):
DROP INDEX IF EXISTS batchkit_jobs_batch_status;
DROP INDEX IF EXISTS batchkit_jobs_lease;
DROP INDEX IF EXISTS batchkit_jobs_batch_seq;
-- claim (queued jobs of a batch in order), cancel and retryFailed (jobs of a batch in one status),
-- listJobs of a batch, deleteBatch, jobDurations (the latest succeeded or failed jobs)
CREATE INDEX IF NOT EXISTS batchkit_jobs_status ON batchkit_jobs (batch_id, status, seq)
  WHERE status IN ('QUEUED', 'SUCCEEDED', 'FAILED', 'CANCELLED');
-- requeueExpired and the reaper (running jobs whose lease ran out, or of a node: all of them are
-- few, the jobs in flight), the running jobs of a batch
CREATE INDEX IF NOT EXISTS batchkit_jobs_running ON batchkit_jobs (batch_id, seq)
  WHERE status = 'PROCESSING';

-- claim: the jobs' fencing tokens, unique over every node and every claim
CREATE SEQUENCE IF NOT EXISTS batchkit_fencing_tokens;

-- the registry of nodes: one row per service that shares the store (BatchService.nodes()); a live
-- node holds the advisory lock (a number for the prefix, lock_key) on a session of its own
CREATE TABLE IF NOT EXISTS batchkit_nodes (
  node_id        VARCHAR(100) PRIMARY KEY,
  host           VARCHAR(100) NOT NULL,
  version        VARCHAR(100) NOT NULL,
  slots          INTEGER NOT NULL,
  running        INTEGER NOT NULL,
  started_at     TIMESTAMP WITH TIME ZONE NOT NULL,
  last_heartbeat TIMESTAMP WITH TIME ZONE NOT NULL,
  status         VARCHAR(16) NOT NULL,
  ended_at       TIMESTAMP WITH TIME ZONE,
  lock_key       INTEGER NOT NULL,
  -- the jobs it ended in the hour before its last report: succeeded, failed for good
  succeeded_hour BIGINT NOT NULL DEFAULT 0,
  failed_hour    BIGINT NOT NULL DEFAULT 0
);

-- what a batch's request carried beyond the batch row: the fingerprint of a request with an
-- idempotency key (a different request under the key is refused: IdempotencyConflictException),
-- and the scheduled start of a PENDING batch (BatchRequest.Builder.startAt)
CREATE TABLE IF NOT EXISTS batchkit_batch_requests (
  batch_id    UUID PRIMARY KEY,
  fingerprint VARCHAR(64),
  start_at    TIMESTAMP WITH TIME ZONE
);

-- startDueBatches: scheduled starts that have come
CREATE INDEX IF NOT EXISTS batchkit_batch_requests_start ON batchkit_batch_requests (start_at);

-- the slots of a batch each node holds: a claim grants one with each job it hands out for a free
-- slot, the node gives them back as it runs out of jobs of the batch (see ClaimRequest); written
-- only under the batch row's lock
CREATE TABLE IF NOT EXISTS batchkit_slots (
  batch_id UUID NOT NULL,
  node_id  VARCHAR(100) NOT NULL,
  held     INTEGER NOT NULL,
  PRIMARY KEY (batch_id, node_id)
);

-- the jobs each node fetched ahead of a batch: only that node's fetches write its row, and only
-- add to it, so that a fetch needs no lock of the batch row; the batch row's absorbed is how many
-- of them its queued and processing counters show already (see BatchRow)
CREATE TABLE IF NOT EXISTS batchkit_fetched (
  batch_id UUID NOT NULL,
  node_id  VARCHAR(100) NOT NULL,
  fetched  BIGINT NOT NULL,
  PRIMARY KEY (batch_id, node_id)
);

-- the token buckets of rate limits held for all nodes (BatchService.Builder.sharedRateLimit): one
-- row per key (a SHA-256 of the job type, or of the job type and a metadata value); tokens -1 is a
-- bucket not used yet (full); a claim locks the rows it draws from after its batch rows, in key
-- order
CREATE TABLE IF NOT EXISTS batchkit_rate_buckets (
  bucket_key VARCHAR(64) NOT NULL PRIMARY KEY,
  tokens     DOUBLE PRECISION NOT NULL,
  updated_at TIMESTAMP WITH TIME ZONE NOT NULL
);

-- what happened to each batch, oldest first by id (BatchEvent), written in the step that made the
-- change; deleted with its batch
CREATE TABLE IF NOT EXISTS batchkit_batch_events (
  id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  batch_id    UUID NOT NULL,
  type        VARCHAR(32) NOT NULL,
  happened_at TIMESTAMP WITH TIME ZONE NOT NULL,
  detail      VARCHAR(500) NOT NULL
);

-- listBatchEvents, and deleteBatch
CREATE INDEX IF NOT EXISTS batchkit_batch_events_batch ON batchkit_batch_events (batch_id, id);

-- the ended attempts of jobs that their rows no longer show (JobAttempt): retries, time-outs, lost
-- leases, jobs given back after they started, and failed attempts that retryFailed queued again; a
-- job's final attempt is read from its row. Written in the step that recorded the attempt's outcome;
-- deleted with the batch, or by the history retention
CREATE TABLE IF NOT EXISTS batchkit_job_attempts (
  job_id     UUID NOT NULL,
  token      BIGINT NOT NULL,
  batch_id   UUID NOT NULL,
  attempt    INTEGER NOT NULL,
  node_id    VARCHAR(100) NOT NULL,
  started_at TIMESTAMP WITH TIME ZONE NOT NULL,
  ended_at   TIMESTAMP WITH TIME ZONE NOT NULL,
  outcome    VARCHAR(16) NOT NULL,
  error      TEXT,
  -- listJobAttempts: a job's attempts in the order of their claims' fencing tokens
  PRIMARY KEY (job_id, token)
);

-- deleteBatch
CREATE INDEX IF NOT EXISTS batchkit_job_attempts_batch ON batchkit_job_attempts (batch_id);
-- purgeHistory
CREATE INDEX IF NOT EXISTS batchkit_job_attempts_ended ON batchkit_job_attempts (ended_at);
-- purgeHistory of batch events
CREATE INDEX IF NOT EXISTS batchkit_batch_events_time ON batchkit_batch_events (happened_at);

-- a batch's webhooks (Webhook), one row per event each is told of, written with the batch; read
-- only by the step that records such an event (batches.webhook_events says which have any)
CREATE TABLE IF NOT EXISTS batchkit_batch_webhooks (
  batch_id UUID NOT NULL,
  event    VARCHAR(16) NOT NULL,
  position INTEGER NOT NULL,
  url      VARCHAR(2000) NOT NULL,
  PRIMARY KEY (batch_id, event, position)
);

-- webhook notifications waiting to be sent (WebhookDelivery): written in the step that recorded
-- their event; due_at is when the next try may start (a claim moves it to the end of its lease);
-- a delivered row is deleted; a row whose tries ran out keeps due_at NULL and its last error until
-- the history retention deletes it. Not deleted with its batch: a notification outlives it
CREATE TABLE IF NOT EXISTS batchkit_webhook_deliveries (
  id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  batch_id   UUID NOT NULL,
  event      VARCHAR(16) NOT NULL,
  url        VARCHAR(2000) NOT NULL,
  body       TEXT NOT NULL,
  created_at TIMESTAMP WITH TIME ZONE NOT NULL,
  due_at     TIMESTAMP WITH TIME ZONE,
  attempts   INTEGER NOT NULL,
  last_error VARCHAR(500)
);

-- claimWebhookDeliveries: due first
CREATE INDEX IF NOT EXISTS batchkit_webhook_deliveries_due ON batchkit_webhook_deliveries (due_at);
