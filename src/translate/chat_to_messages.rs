//! Translator pair: in progress.
