//! The zip itself, in Odoo's layout: `dump.sql` (plain SQL from pg_dump), `manifest.json`,
//! `filestore/XX/SHA1...` (a flat copy of `data_dir/filestore/DB`). Written and read on a
//! blocking thread; the dump and the filestore arrive as readers over channels
//! ([`super::pipe`]) while Docker streams them.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use color_eyre::eyre::{Result, eyre};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::checksums::{FileSum, Hashing, dump_is_complete, sum_reader};
use super::manifest::Manifest;
use super::names::Stamp;

pub const DUMP: &str = "dump.sql";
pub const MANIFEST: &str = "manifest.json";
pub const FILESTORE: &str = "filestore/";

/// What went into a zip, as it was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contents {
    pub dump: FileSum,
    pub filestore_files: u64,
    pub filestore_bytes: u64,
}

fn options(at: &Stamp) -> SimpleFileOptions {
    let mtime = zip::DateTime::from_date_and_time(
        at.y as u16,
        at.mo as u8,
        at.d as u8,
        at.h as u8,
        at.mi as u8,
        at.s as u8,
    )
    .unwrap_or_default();
    SimpleFileOptions::default()
        .last_modified_time(mtime)
        .unix_permissions(0o644)
}

/// Write the zip into `file`: the dump from `dump`, then the manifest, then the regular
/// files of the tar read from `filestore_tar` (Docker's archive of the filestore
/// directory, entries `DB/XX/SHA1`; the first component is dropped). Fails when the dump
/// is not complete, before anything calls the zip a backup.
pub fn write(
    file: File,
    manifest: &Manifest,
    at: &Stamp,
    mut dump: impl Read,
    filestore_tar: impl Read,
) -> Result<(File, Contents)> {
    let mut zip = ZipWriter::new(file);
    // Deflated as Odoo's zips are; zip64 because a dump's size is not known in advance and
    // a large database's passes 4 GiB.
    let sql_options = options(at)
        .compression_method(CompressionMethod::Deflated)
        .large_file(true);
    zip.start_file(DUMP, sql_options)?;
    let mut hashing = Hashing::new(&mut zip);
    std::io::copy(&mut dump, &mut hashing).map_err(|e| eyre!("writing dump.sql: {e}"))?;
    let (_, dump_sum, tail) = hashing.finish();
    if !dump_is_complete(&tail) {
        return Err(eyre!(
            "pg_dump's output ended without \"PostgreSQL database dump complete\" ({} bytes)",
            dump_sum.size
        ));
    }

    zip.start_file(
        MANIFEST,
        options(at).compression_method(CompressionMethod::Deflated),
    )?;
    zip.write_all(&serde_json::to_vec_pretty(manifest)?)?;

    let mut contents = Contents {
        dump: dump_sum,
        ..Default::default()
    };
    let mut archive = tar::Archive::new(filestore_tar);
    for entry in archive
        .entries()
        .map_err(|e| eyre!("reading the filestore: {e}"))?
    {
        let mut entry = entry.map_err(|e| eyre!("reading the filestore: {e}"))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(|e| eyre!("reading the filestore: {e}"))?
            .into_owned();
        let inside: Vec<String> = path
            .components()
            .skip(1)
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if inside.is_empty() {
            continue;
        }
        let size = entry.size();
        // Attachments are mostly compressed already (PDF, images): stored, not deflated
        // again, spares the CPU for the same size.
        let file_options = options(at)
            .compression_method(CompressionMethod::Stored)
            .large_file(size >= u64::from(u32::MAX));
        zip.start_file(format!("{FILESTORE}{}", inside.join("/")), file_options)?;
        let copied =
            std::io::copy(&mut entry, &mut zip).map_err(|e| eyre!("writing {path:?}: {e}"))?;
        contents.filestore_files += 1;
        contents.filestore_bytes += copied;
    }
    // Docker pads the archive after its last entry: read it so the sender is not left
    // waiting on a closed channel.
    std::io::copy(&mut archive.into_inner(), &mut std::io::sink())?;
    let file = zip.finish()?;
    file.sync_all()?;
    Ok((file, contents))
}

/// A zip's contents read back: the manifest parsed, `dump.sql` decompressed end to end
/// (its checksum and its closing line), the filestore files counted.
#[derive(Debug, Clone)]
pub struct ReadBack {
    pub manifest: Manifest,
    pub contents: Contents,
}

/// Read a backup back whole; any damage (a truncated or corrupt zip, a CRC mismatch, a
/// dump cut short, a manifest that is not Odoo's) is an error.
pub fn read_back(path: &Path) -> Result<ReadBack> {
    let file = File::open(path).map_err(|e| eyre!("{}: {e}", path.display()))?;
    let mut zip = ZipArchive::new(file)
        .map_err(|e| eyre!("{} is not a readable zip: {e}", path.display()))?;
    let manifest = {
        let mut entry = zip
            .by_name(MANIFEST)
            .map_err(|e| eyre!("{}: no manifest.json: {e}", path.display()))?;
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        Manifest::parse(&bytes)?
    };
    let (dump, tail) = {
        let mut entry = zip
            .by_name(DUMP)
            .map_err(|e| eyre!("{}: no dump.sql: {e}", path.display()))?;
        // Reading to the end checks the entry's CRC too.
        sum_reader(&mut entry).map_err(|e| eyre!("{}: dump.sql: {e}", path.display()))?
    };
    if !dump_is_complete(&tail) {
        return Err(eyre!(
            "{}: dump.sql does not end with pg_dump's \"PostgreSQL database dump complete\"",
            path.display()
        ));
    }
    let mut contents = Contents {
        dump,
        ..Default::default()
    };
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i)?;
        let name = entry.name()?.into_owned();
        if entry.is_file() && name.starts_with(FILESTORE) {
            let n = std::io::copy(&mut entry, &mut std::io::sink())
                .map_err(|e| eyre!("{}: {name}: {e}", path.display()))?;
            contents.filestore_files += 1;
            contents.filestore_bytes += n;
        }
    }
    Ok(ReadBack { manifest, contents })
}
