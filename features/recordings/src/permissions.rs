//! The permissions of the recording operations (published in `docs/rbac.md`).

qubital_plugin::permissions! {
    /// See recordings and download them; report who is in a recorded zone.
    pub VIEW_RECORDINGS = ("ViewRecordings", Member);
    /// Start recording a zone of a space.
    pub START_RECORDING = ("StartRecording", Moderator);
    /// Stop a recording.
    pub STOP_RECORDING = ("StopRecording", Moderator);
}
