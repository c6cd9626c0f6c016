//! The problem types of the upload operations (catalogued in `docs/problems.md`).

qubital_plugin::problem_types! {
    /// `/user/avatar/finalize`, `/organizations/{id}/logo/finalize`: no ticket of the caller, for
    /// this kind of image in this organization, has this key: a key that was never issued,
    /// another user's, one of another organization, or one already finalized.
    pub UPLOAD_TICKET_UNKNOWN = (404, "upload-ticket-unknown", "No upload ticket of yours has this key");
    /// Finalize after the ticket's `finalizeBy`: ask for a new ticket and upload again.
    pub UPLOAD_TICKET_EXPIRED = (410, "upload-ticket-expired", "The upload ticket has expired");
    /// Finalize before anything was uploaded with the ticket's URL.
    pub UPLOAD_MISSING = (409, "upload-missing", "Nothing was uploaded with this ticket");
    /// The uploaded object was replaced while it was being finalized: finalize again.
    pub UPLOAD_CHANGED = (409, "upload-changed", "The upload changed while it was being finalized");
    /// The uploaded object is larger than the size the ticket was issued for.
    pub UPLOAD_TOO_LARGE = (422, "upload-too-large", "The upload is larger than its ticket allows");
    /// The uploaded bytes are not a PNG, JPEG or WebP image (whatever its name or content type
    /// said).
    pub UPLOAD_NOT_AN_IMAGE = (422, "upload-not-an-image", "The upload is not a PNG, JPEG or WebP image");
    /// The image is smaller than 16×16 or larger than 4096×4096 pixels.
    pub UPLOAD_IMAGE_DIMENSIONS = (422, "upload-image-dimensions", "The image's dimensions are out of bounds");
}
