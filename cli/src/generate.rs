//! `avatarium generate man DIR | bash | zsh | fish`, for packagers: the man pages and shell
//! completions, written from the same clap definition as the parser, so they cannot drift
//! from it. It is parsed apart from the other commands, so neither `--help` nor the
//! completions list it. scripts/dist.sh puts the output in the CLI tarball.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, ValueEnum};
use clap_complete::{Generator, Shell};

/// The word that selects this command.
pub const NAME: &str = "generate";

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Artifact {
    /// The man pages (roff): `avatarium.1` and one per subcommand, into DIR.
    Man,
    Bash,
    Zsh,
    Fish,
}

#[derive(Parser, Debug)]
#[command(
    name = "avatarium generate",
    about = "Write the man pages or a shell's completions"
)]
struct Args {
    what: Artifact,
    /// The folder the man pages go to (`man`); completions go to stdout.
    dir: Option<PathBuf>,
}

/// Runs `avatarium generate …` (`args` without the program name and `generate`) for the
/// command line `C`.
pub fn run<C: CommandFactory>(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args = match Args::try_parse_from(std::iter::once(OsString::from(NAME)).chain(args)) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(2);
        }
    };
    let mut command = C::command();
    let written = match (args.what, args.dir) {
        (Artifact::Man, Some(dir)) => {
            std::fs::create_dir_all(&dir).and_then(|()| clap_mangen::generate_to(command, &dir))
        }
        (Artifact::Man, None) => {
            eprintln!("avatarium generate man: name the folder the pages go to");
            return ExitCode::from(2);
        }
        (Artifact::Bash, _) => complete(Shell::Bash, &mut command),
        (Artifact::Zsh, _) => complete(Shell::Zsh, &mut command),
        (Artifact::Fish, _) => complete(Shell::Fish, &mut command),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("avatarium: cannot write: {e}");
            ExitCode::from(2)
        }
    }
}

/// `clap_complete::generate` without its panic on a write error (a closed pipe).
fn complete(shell: Shell, command: &mut clap::Command) -> io::Result<()> {
    let name = command.get_name().to_owned();
    command.set_bin_name(name);
    command.build();
    let mut out = io::stdout().lock();
    shell.try_generate(command, &mut out)?;
    out.flush()
}
