//! A content part in no API's form: a reader (`translate::wire::<api>`) makes one of a
//! client's block or part, a writer turns it into the target API's. A rule about images or
//! documents is then one place per API, shared by every pair that reads or writes it.

/// Text, or an image or a file with where its bytes are.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    Image(Media),
    File(Media),
}

/// Where an image's or a file's bytes are.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Inline: a `data:<media>;base64,<data>` URL.
    Data(String),
    /// A web URL (for images, OpenAI's `image_url` may also be a data URL).
    Url(String),
    /// An id in the client API's own file store.
    FileId(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    pub source: Source,
    /// OpenAI's image `detail`.
    pub detail: Option<String>,
    pub filename: Option<String>,
    /// The request param that holds the source, named by an error when the target API
    /// cannot take it.
    pub at: String,
}

impl Media {
    pub fn new(source: Source, at: String) -> Self {
        Media {
            source,
            detail: None,
            filename: None,
            at,
        }
    }
}
