//! `rbolt surgery …`'s subcommands and flags, named and worded as bbolt's.

use clap::{Args, Subcommand};
use std::ffi::OsString;

/// The surgery subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum SurgeryCmd {
    /// Revert the meta page to revert the changes performed by the latest transaction
    #[command(override_usage = "rbolt surgery revert-meta-page <bbolt-file> [flags]")]
    RevertMetaPage(Base),
    /// Copy page from the source page Id to the destination page Id
    #[command(override_usage = "rbolt surgery copy-page <bbolt-file> [flags]")]
    CopyPage(CopyPageArgs),
    /// Clears all elements from the given page, which can be a branch or leaf page
    #[command(override_usage = "rbolt surgery clear-page <bbolt-file> [flags]")]
    ClearPage(ClearPageArgs),
    /// Clears elements from the given page, which can be a branch or leaf page
    #[command(override_usage = "rbolt surgery clear-page-elements <bbolt-file> [flags]")]
    ClearPageElements(ClearElementsArgs),
    /// freelist related surgery commands
    #[command(
        subcommand,
        override_usage = "rbolt surgery freelist <subcommand> [flags]"
    )]
    Freelist(FreelistCmd),
    /// meta page related surgery commands
    #[command(subcommand, override_usage = "rbolt surgery meta <subcommand> [flags]")]
    Meta(MetaCmd),
}

#[derive(Debug, Subcommand)]
pub(crate) enum FreelistCmd {
    /// Abandon the freelist from both meta pages
    #[command(override_usage = "rbolt surgery freelist abandon <bbolt-file> [flags]")]
    Abandon(Base),
    /// Rebuild the freelist
    #[command(override_usage = "rbolt surgery freelist rebuild <bbolt-file> [flags]")]
    Rebuild(Base),
}

#[derive(Debug, Subcommand)]
pub(crate) enum MetaCmd {
    /// Validate both meta pages
    #[command(override_usage = "rbolt surgery meta validate <bbolt-file> [flags]")]
    Validate(crate::cli::Positional),
    /// Update fields in meta pages
    #[command(override_usage = "rbolt surgery meta update <bbolt-file> [flags]")]
    Update(MetaUpdateArgs),
}

/// The file and the copy to write.
#[derive(Debug, Args)]
pub(crate) struct Base {
    #[command(flatten)]
    pub(crate) pos: crate::cli::Positional,
    /// path to the filePath db file
    #[arg(long, value_name = "string")]
    pub(crate) output: Option<OsString>,
}

#[derive(Debug, Args)]
pub(crate) struct CopyPageArgs {
    #[command(flatten)]
    pub(crate) base: Base,
    /// source page Id
    #[arg(long, value_name = "uint")]
    pub(crate) from_page: Option<u64>,
    /// destination page Id
    #[arg(long, value_name = "uint")]
    pub(crate) to_page: Option<u64>,
}

#[derive(Debug, Args)]
pub(crate) struct ClearPageArgs {
    #[command(flatten)]
    pub(crate) base: Base,
    /// page Id
    #[arg(long = "pageId", value_name = "uint")]
    pub(crate) page_id: Option<u64>,
}

#[derive(Debug, Args)]
pub(crate) struct ClearElementsArgs {
    #[command(flatten)]
    pub(crate) base: Base,
    /// page id
    #[arg(long = "pageId", value_name = "uint")]
    pub(crate) page_id: Option<u64>,
    /// start element index (included) to clear, starting from 0
    #[arg(long, value_name = "int", allow_negative_numbers = true)]
    pub(crate) from_index: Option<i64>,
    /// end element index (excluded) to clear, starting from 0, -1 means to the end of page
    #[arg(long, value_name = "int", allow_negative_numbers = true)]
    pub(crate) to_index: Option<i64>,
}

#[derive(Debug, Args)]
pub(crate) struct MetaUpdateArgs {
    #[command(flatten)]
    pub(crate) base: Base,
    /// comma separated list of fields (supported fields: pageSize, root, freelist and pgid) to
    /// be updated, and each item is a colon-separated key-value pair
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub(crate) fields: Vec<String>,
    /// the meta page ID to operate on, valid values are 0 and 1
    #[arg(long, value_name = "uint32", default_value_t = 0)]
    pub(crate) meta_page: u32,
}
