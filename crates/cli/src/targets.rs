//! Which images `histo equalize` reads and where each goes: one input and
//! `-o OUT`, or a batch (several inputs, quoted patterns, a list file)
//! into `--out-dir DIR`. Every name is settled before any work starts, so
//! a batch never stops halfway on a name it could have refused at once.

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufRead};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use histo_codec::Format;

use crate::io_paths::is_stdio;

/// A command line that names its images wrongly (exit code 2, as clap's
/// own refusals).
#[derive(Debug)]
pub struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage(message: String) -> anyhow::Error {
    UsageError(message).into()
}

/// The batch flags of `histo equalize`.
#[derive(clap::Args, Debug)]
pub struct BatchArgs {
    /// Write each output into this directory (created if missing), under
    /// its input's file name, with the extension of --format when given.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,

    /// Read more inputs from FILE, one path per line (`-` for standard
    /// input); empty lines and lines starting with `#` are skipped.
    #[arg(long, value_name = "FILE", requires = "out_dir")]
    from_list: Option<PathBuf>,

    /// Images equalized at once in a batch (default: one per core). They
    /// share the workers (--threads, or the cluster's), and each holds at
    /// most one image in memory.
    #[arg(long, env = "HISTO_JOBS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    jobs: Option<u16>,

    /// In a batch, report an image that fails and go on with the others
    /// (default: start no new image after a failure).
    #[arg(long)]
    keep_going: bool,

    /// One table for the whole batch, from the counts of every image
    /// summed: global, or CLAHE over images of one size (tile by tile).
    #[arg(long, requires = "out_dir")]
    shared_table: bool,
}

/// One image to equalize.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// The input file, or `-`.
    pub input: PathBuf,
    /// The output file, or `-`.
    pub output: PathBuf,
    /// The output format; none keeps the input's.
    pub format: Option<Format>,
}

/// The images of one command.
#[derive(Debug)]
pub enum Targets {
    /// One input, one output.
    One(Target),
    /// Several, into an output directory.
    Batch(Vec<Target>),
}

impl BatchArgs {
    /// Images at once.
    pub fn jobs(&self) -> usize {
        self.jobs.map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), usize::from)
    }

    /// Whether a failed image leaves the others going.
    pub fn keep_going(&self) -> bool {
        self.keep_going
    }

    /// Whether the batch shares one table.
    pub fn shared_table(&self) -> bool {
        self.shared_table
    }

    /// The images to equalize and their outputs.
    pub fn targets(&self, inputs: &[PathBuf], output: Option<&Path>, format: Option<Format>) -> Result<Targets> {
        let mut paths = expand(inputs)?;
        if let Some(list) = &self.from_list {
            paths.extend(read_list(list).with_context(|| format!("cannot read the list {}", list.display()))?);
        }
        match (output, &self.out_dir) {
            (Some(output), None) => {
                let [input] = <[PathBuf; 1]>::try_from(paths).map_err(|paths| {
                    usage(format!("{} inputs and one output: use --out-dir DIR for several inputs", paths.len()))
                })?;
                let format = output_format(format, output)?;
                Ok(Targets::One(Target { input, output: output.to_owned(), format }))
            }
            (None, Some(dir)) => batch(paths, dir, format).map(Targets::Batch),
            _ => Err(usage("give -o OUT for one input or --out-dir DIR for several".into())),
        }
    }
}

/// The format of a named output: --format, else the extension's.
fn output_format(format: Option<Format>, output: &Path) -> Result<Option<Format>> {
    match (format, is_stdio(output)) {
        (Some(f), _) => Ok(Some(f)),
        (None, true) => Ok(None),
        (None, false) => Format::from_path(output).map(Some).with_context(|| {
            format!("cannot tell the output format from '{}': use --format png|jpeg|tiff|bmp|webp", output.display())
        }),
    }
}

/// The inputs as given, each quoted pattern replaced by the files it
/// matches (sorted). A path that exists is taken as it is, whatever its
/// characters.
fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::with_capacity(inputs.len());
    for input in inputs {
        let text = input.to_string_lossy();
        let is_pattern = text.contains(['*', '?', '[']) && !input.exists();
        if !is_pattern {
            paths.push(input.clone());
            continue;
        }
        let matches = glob::glob(&text).with_context(|| format!("bad pattern '{text}'"))?;
        let before = paths.len();
        for path in matches {
            let path = path.with_context(|| format!("cannot read the files of '{text}'"))?;
            if !path.is_dir() {
                paths.push(path);
            }
        }
        if paths.len() == before {
            return Err(usage(format!("no file matches '{text}'")));
        }
    }
    Ok(paths)
}

/// The paths of a list file, or of standard input for `-`.
fn read_list(list: &Path) -> Result<Vec<PathBuf>> {
    let reader: Box<dyn BufRead> =
        if is_stdio(list) { Box::new(io::stdin().lock()) } else { Box::new(io::BufReader::new(fs::File::open(list)?)) };
    let mut paths = Vec::new();
    for line in reader.lines() {
        let line = line?;
        let line = line.trim();
        if !line.is_empty() && !line.starts_with('#') {
            paths.push(PathBuf::from(line));
        }
    }
    Ok(paths)
}

/// The batch's targets in `dir`: each output under its input's file name,
/// no two on the same file, none on its own input.
fn batch(inputs: Vec<PathBuf>, dir: &Path, format: Option<Format>) -> Result<Vec<Target>> {
    if inputs.is_empty() {
        return Err(usage("no input to equalize".into()));
    }
    let mut taken: HashMap<PathBuf, &Path> = HashMap::new();
    let mut targets = Vec::with_capacity(inputs.len());
    for input in &inputs {
        if is_stdio(input) {
            return Err(usage("standard input (-) can only be the one input, with -o OUT".into()));
        }
        let name = input.file_name().with_context(|| format!("'{}' is not a file name", input.display()))?;
        let mut output = dir.join(name);
        if let Some(f) = format {
            output.set_extension(f.name());
        }
        if let Some(first) = taken.insert(output.clone(), input) {
            return Err(usage(format!(
                "'{}' and '{}' would both be written to '{}'",
                first.display(),
                input.display(),
                output.display()
            )));
        }
        if same_file(input, &output) {
            return Err(usage(format!(
                "'{}' would be written over its input: choose another --out-dir",
                input.display()
            )));
        }
        // An extension histo does not know keeps the input's format.
        let format = format.or_else(|| Format::from_path(&output));
        targets.push(Target { input: input.clone(), output, format });
    }
    fs::create_dir_all(dir).with_context(|| format!("cannot create the output directory {}", dir.display()))?;
    Ok(targets)
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((fs::canonicalize(a), fs::canonicalize(b)), (Ok(a), Ok(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(out_dir: Option<&Path>) -> BatchArgs {
        BatchArgs {
            out_dir: out_dir.map(Path::to_owned),
            from_list: None,
            jobs: None,
            keep_going: false,
            shared_table: false,
        }
    }

    #[test]
    fn several_inputs_need_an_output_directory() {
        let inputs = [PathBuf::from("a.png"), PathBuf::from("b.png")];
        let e = args(None).targets(&inputs, Some(Path::new("o.png")), None).unwrap_err();
        assert!(e.to_string().contains("--out-dir"), "{e}");
    }

    #[test]
    fn batch_outputs_keep_names_take_the_format_and_never_collide() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let inputs = [PathBuf::from("x/a.png"), PathBuf::from("y/b.tif")];
        let Targets::Batch(list) = args(Some(&out)).targets(&inputs, None, Some(Format::Jpeg)).unwrap() else {
            panic!("a batch")
        };
        assert_eq!(list[0].output, out.join("a.jpeg"));
        assert_eq!(list[1].output, out.join("b.jpeg"));
        assert!(list.iter().all(|t| t.format == Some(Format::Jpeg)));
        let Targets::Batch(list) = args(Some(&out)).targets(&inputs, None, None).unwrap() else { panic!("a batch") };
        assert_eq!((list[1].output.clone(), list[1].format), (out.join("b.tif"), Some(Format::Tiff)));

        let twice = [PathBuf::from("x/a.png"), PathBuf::from("y/a.png")];
        let e = args(Some(&out)).targets(&twice, None, None).unwrap_err();
        assert!(e.to_string().contains("would both be written"), "{e}");
        let stdin = [PathBuf::from("-"), PathBuf::from("a.png")];
        assert!(args(Some(&out)).targets(&stdin, None, None).is_err());
    }

    #[test]
    fn patterns_expand_sorted_and_one_that_matches_nothing_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.png", "a.png", "c.txt"] {
            fs::write(dir.path().join(name), b"").unwrap();
        }
        let pattern = dir.path().join("*.png");
        assert_eq!(expand(&[pattern]).unwrap(), vec![dir.path().join("a.png"), dir.path().join("b.png")]);
        let e = expand(&[dir.path().join("*.gif")]).unwrap_err();
        assert!(e.to_string().contains("no file matches"), "{e}");
    }
}
