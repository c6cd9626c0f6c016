-- One recording start at a time per organization, without a lock held across LiveKit: a start
-- claims its organization's row (an insert, or an update of an expired lease), asks LiveKit
-- holding no connection, and deletes the row in the transaction that saves the recording
-- (features/recordings/src/api/recordings.rs). A start that crashed leaves a lease that
-- expires at `lease_until`.
CREATE TABLE recording_start_leases (
    org_id      BIGINT PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    lease_id    UUID NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL
);
