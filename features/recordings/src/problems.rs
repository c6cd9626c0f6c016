//! The problem types of the recording operations (catalogued in `docs/problems.md`).

qubital_plugin::problem_types! {
    /// `/recordings/start`: the organization has used its recordings for this calendar month.
    pub RECORDING_QUOTA_EXCEEDED = (402, "recording-quota-exceeded", "The organization has used its recordings for this month");
    /// `/recordings/start`: this zone of the space is being recorded already.
    pub RECORDING_ACTIVE = (409, "recording-active", "This zone of the space is already being recorded");
    /// `/recordings/start`: the conference service refused to record (nobody is in the room).
    pub RECORDING_REFUSED = (409, "recording-refused", "The conference cannot be recorded now (is anyone in it?)");
    /// `/recordings/{id}/stop`, `/recordings/presence/update`: the recording (or the zone's
    /// recording) is not active.
    pub RECORDING_NOT_ACTIVE = (409, "recording-not-active", "The recording is not active");
    /// `/recordings/{id}/download-link`: the recording has no completed file.
    pub RECORDING_NOT_READY = (409, "recording-not-ready", "The recording has no file to download (yet)");
}
