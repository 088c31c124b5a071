-- batchkit schema for MySQL 8+ and MariaDB 10.6+ (InnoDB, utf8mb4), version 1: a Flyway migration in
-- classpath:io/batchkit/jdbc/migration/mysql (outside db/migration, so that an application's
-- Flyway, which scans db/migration with its subfolders by default, never finds it by chance).
-- Table names start with the prefix "batchkit_", which JdbcJobStore.builder().tablePrefix(...)
-- replaces when createSchema(true) runs these files itself. Later versions of the schema come as
-- further files V2__..., V3__... beside this one; never edit a released version. Times are UTC;
-- *_ms columns are Unix milliseconds.
-- Indexes are declared inside CREATE TABLE because MySQL has no CREATE INDEX IF NOT EXISTS.
-- Texts that are compared (job type, idempotency key, metadata) are VARBINARY holding UTF-8,
-- because the text collations of MySQL and MariaDB ignore case or trailing spaces, and
-- batchkit matches these exactly.

CREATE TABLE IF NOT EXISTS batchkit_batches (
  id                  CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  name                VARCHAR(200) NOT NULL,
  job_type            VARBINARY(400) NOT NULL,
  priority            SMALLINT NOT NULL,
  metadata            MEDIUMTEXT NOT NULL,
  max_concurrency     INTEGER NOT NULL,
  max_attempts        INTEGER NOT NULL,
  job_timeout_ms      BIGINT NOT NULL,
  policy_max_failures INTEGER NOT NULL,
  policy_max_ratio    DOUBLE NOT NULL,
  idempotency_key     VARBINARY(800),
  status              VARCHAR(16) NOT NULL,
  total               BIGINT NOT NULL,
  queued              BIGINT NOT NULL,
  processing          BIGINT NOT NULL,
  succeeded           BIGINT NOT NULL,
  failed              BIGINT NOT NULL,
  cancelled           BIGINT NOT NULL,
  created_at          DATETIME(6) NOT NULL,
  started_at          DATETIME(6),
  updated_at          DATETIME(6) NOT NULL,
  completed_at        DATETIME(6),
  last_served_ms      BIGINT NOT NULL,
  served_seq          BIGINT NOT NULL,
  -- the slots all nodes hold (the sum of held in batchkit_slots), at most max_concurrency
  slots_held          INTEGER NOT NULL DEFAULT 0,
  -- the events its webhooks are told of: STARTED 1, CANCELLED 2, FINISHED 4 (0: no webhooks)
  webhook_events      INTEGER NOT NULL DEFAULT 0,
  -- createBatch: one batch per idempotency key
  UNIQUE KEY batchkit_batches_idempotency (idempotency_key),
  -- claim: started batches with queued jobs and free slots, in dispatch order
  KEY batchkit_batches_claim (status, job_type),
  -- listBatches: newest first
  KEY batchkit_batches_created (created_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS batchkit_batch_metadata (
  batch_id   CHAR(36) CHARACTER SET ascii NOT NULL,
  meta_key   VARBINARY(400) NOT NULL,
  meta_value VARBINARY(4000) NOT NULL,
  PRIMARY KEY (batch_id, meta_key),
  -- listBatches filtered by a metadata key and value (a prefix of the value keeps the key short)
  KEY batchkit_batch_metadata_kv (meta_key, meta_value(1000))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS batchkit_jobs (
  id            CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  batch_id      CHAR(36) CHARACTER SET ascii NOT NULL,
  seq           INTEGER NOT NULL,
  payload       LONGTEXT NOT NULL,
  status        VARCHAR(16) NOT NULL,
  attempt       INTEGER NOT NULL,
  fencing_token BIGINT NOT NULL,
  owner         VARCHAR(100),
  lease_until   DATETIME(6),
  run_at        DATETIME(6) NOT NULL,
  result        LONGTEXT,
  error         TEXT,
  started_at    DATETIME(6),
  finished_at   DATETIME(6),
  updated_at    DATETIME(6) NOT NULL,
  -- the progress the running attempt whose fencing token is progress_token last reported
  progress         DOUBLE,
  progress_message VARCHAR(500),
  progress_at      DATETIME(6),
  progress_token   BIGINT,
  -- claim (queued jobs of a batch in order), cancel and retryFailed (jobs of a batch in one status),
  -- listJobs of a batch and deleteBatch (one status at a time, as on PostgreSQL)
  KEY batchkit_jobs_batch_status (batch_id, status, seq),
  -- each place in a batch once; no statement reads it (PostgreSQL, where every update of a job row
  -- writes an entry in every index, has none)
  UNIQUE KEY batchkit_jobs_batch_seq (batch_id, seq),
  -- requeueExpired: running jobs whose lease ran out
  KEY batchkit_jobs_lease (status, lease_until)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- the registry of nodes: one row per service that shares the store (BatchService.nodes()); a live
-- node holds the named lock <prefix>node_<lock_key> (GET_LOCK) on a session of its own
CREATE TABLE IF NOT EXISTS batchkit_nodes (
  node_id        VARCHAR(100) NOT NULL PRIMARY KEY,
  host           VARCHAR(100) NOT NULL,
  version        VARCHAR(100) NOT NULL,
  slots          INTEGER NOT NULL,
  running        INTEGER NOT NULL,
  started_at     DATETIME(6) NOT NULL,
  last_heartbeat DATETIME(6) NOT NULL,
  status         VARCHAR(16) NOT NULL,
  ended_at       DATETIME(6),
  lock_key       INTEGER NOT NULL,
  -- the jobs it ended in the hour before its last report: succeeded, failed for good
  succeeded_hour BIGINT NOT NULL DEFAULT 0,
  failed_hour    BIGINT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- what a batch's request carried beyond the batch row: the fingerprint of a request with an
-- idempotency key (a different request under the key is refused: IdempotencyConflictException),
-- and the scheduled start of a PENDING batch (BatchRequest.Builder.startAt)
CREATE TABLE IF NOT EXISTS batchkit_batch_requests (
  batch_id    CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  fingerprint VARCHAR(64) CHARACTER SET ascii,
  start_at    DATETIME(6),
  -- startDueBatches: scheduled starts that have come
  KEY batchkit_batch_requests_start (start_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- the slots of a batch each node holds: a claim grants one with each job it hands out for a free
-- slot, the node gives them back as it runs out of jobs of the batch (see ClaimRequest); written
-- only under the batch row's lock
CREATE TABLE IF NOT EXISTS batchkit_slots (
  batch_id CHAR(36) CHARACTER SET ascii NOT NULL,
  node_id  VARCHAR(100) NOT NULL,
  held     INTEGER NOT NULL,
  PRIMARY KEY (batch_id, node_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- the token buckets of rate limits held for all nodes (BatchService.Builder.sharedRateLimit): one
-- row per key (a SHA-256 of the job type, or of the job type and a metadata value); tokens -1 is a
-- bucket not used yet (full); a claim locks the rows it draws from after its batch rows, in key
-- order
CREATE TABLE IF NOT EXISTS batchkit_rate_buckets (
  bucket_key VARCHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  tokens     DOUBLE NOT NULL,
  updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- what happened to each batch, oldest first by id (BatchEvent), written in the step that made the
-- change; deleted with its batch
CREATE TABLE IF NOT EXISTS batchkit_batch_events (
  id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  batch_id    CHAR(36) CHARACTER SET ascii NOT NULL,
  type        VARCHAR(32) CHARACTER SET ascii NOT NULL,
  happened_at DATETIME(6) NOT NULL,
  detail      VARCHAR(500) NOT NULL,
  -- listBatchEvents, and deleteBatch
  KEY batchkit_batch_events_batch (batch_id, id),
  -- purgeHistory
  KEY batchkit_batch_events_time (happened_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- the ended attempts of jobs that their rows no longer show (JobAttempt): retries, time-outs, lost
-- leases, jobs given back after they started, and failed attempts that retryFailed queued again; a
-- job's final attempt is read from its row. Written in the step that recorded the attempt's outcome;
-- deleted with the batch, or by the history retention
CREATE TABLE IF NOT EXISTS batchkit_job_attempts (
  job_id     CHAR(36) CHARACTER SET ascii NOT NULL,
  token      BIGINT NOT NULL,
  batch_id   CHAR(36) CHARACTER SET ascii NOT NULL,
  attempt    INTEGER NOT NULL,
  node_id    VARCHAR(100) NOT NULL,
  started_at DATETIME(6) NOT NULL,
  ended_at   DATETIME(6) NOT NULL,
  outcome    VARCHAR(16) CHARACTER SET ascii NOT NULL,
  error      TEXT,
  -- listJobAttempts: a job's attempts in the order of their claims' fencing tokens
  PRIMARY KEY (job_id, token),
  -- deleteBatch
  KEY batchkit_job_attempts_batch (batch_id),
  -- purgeHistory
  KEY batchkit_job_attempts_ended (ended_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- a batch's webhooks (Webhook), one row per event each is told of, written with the batch; read
-- only by the step that records such an event (batches.webhook_events says which have any)
CREATE TABLE IF NOT EXISTS batchkit_batch_webhooks (
  batch_id CHAR(36) CHARACTER SET ascii NOT NULL,
  event    VARCHAR(16) CHARACTER SET ascii NOT NULL,
  position INTEGER NOT NULL,
  url      VARCHAR(2000) NOT NULL,
  PRIMARY KEY (batch_id, event, position)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- webhook notifications waiting to be sent (WebhookDelivery): written in the step that recorded
-- their event; due_at is when the next try may start (a claim moves it to the end of its lease);
-- a delivered row is deleted; a row whose tries ran out keeps due_at NULL and its last error until
-- the history retention deletes it. Not deleted with its batch: a notification outlives it
CREATE TABLE IF NOT EXISTS batchkit_webhook_deliveries (
  id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  batch_id   CHAR(36) CHARACTER SET ascii NOT NULL,
  event      VARCHAR(16) CHARACTER SET ascii NOT NULL,
  url        VARCHAR(2000) NOT NULL,
  body       MEDIUMTEXT NOT NULL,
  created_at DATETIME(6) NOT NULL,
  due_at     DATETIME(6),
  attempts   INTEGER NOT NULL,
  last_error VARCHAR(500),
  -- claimWebhookDeliveries: due first
  KEY batchkit_webhook_deliveries_due (due_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
