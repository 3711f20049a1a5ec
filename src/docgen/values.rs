//! Completion of service names and runlevels, added to the scripts clap_complete generates.
//!
//! clap_complete's scripts know the commands and options but not the values people press Tab
//! for: the service names of the configuration in effect and the runlevels. Each script gets a
//! small function that runs first: it reads the line being completed the way svc will parse
//! it (the command, how many arguments precede the cursor, the options that take a value,
//! `--config-dir DIR` anywhere on the line or `SVC_CONFIG_DIR=DIR` written before `svc`),
//! and where the argument is a `NAME` or a `RUNLEVEL` it offers what `svc [--config-dir DIR]
//! __complete services|runlevels` prints; anywhere else it hands over to clap's completion.
//! Which argument of which command takes what, and which options take a value, come from the
//! same clap definitions as everything else ([`Table::of`]), so they never drift.
//!
//! Why not clap_complete's own dynamic engine (`unstable-dynamic`, `CompleteEnv`)? Its value
//! completers see only the word being completed, not the `--config-dir` given earlier on the
//! line; it is marked unstable; and it would replace the scripts the package installs by a stub
//! that runs svc for every Tab, also for commands and options.

use std::fmt::Write;

use clap::Command;

use super::Shell;

/// What a positional argument completes to, by its value name in [`crate::cli`].
fn kind_of(arg: &clap::Arg) -> Option<&'static str> {
    match arg.get_value_names()?.first()?.as_str() {
        "NAME" => Some("services"),
        "RUNLEVEL" => Some("runlevels"),
        _ => None,
    }
}

/// A command's arguments that complete to service names or runlevels.
struct Rule {
    /// The command and its aliases.
    names: Vec<String>,
    /// (0-based position among the command's arguments, takes several values, kind)
    args: Vec<(usize, bool, &'static str)>,
}

/// Everything the scripts need to know about the command line.
pub struct Table {
    rules: Vec<Rule>,
    /// Options that take a value as the next word (`--config-dir` aside), long and short.
    value_options: Vec<String>,
}

impl Table {
    /// From the command line definition (hidden commands left out, as in the scripts).
    pub fn of(cmd: &Command) -> Table {
        let mut cmd = cmd.clone();
        cmd.build();
        let mut value_options = Vec::new();
        let mut add_options = |c: &Command| {
            for a in c.get_arguments() {
                if a.is_positional() || !a.get_action().takes_values() {
                    continue;
                }
                let longs = a.get_long().into_iter().map(|l| format!("--{l}"));
                let shorts = a.get_short().into_iter().map(|s| format!("-{s}"));
                for o in longs.chain(shorts) {
                    if o != "--config-dir" && !value_options.contains(&o) {
                        value_options.push(o);
                    }
                }
            }
        };
        add_options(&cmd);
        let mut rules = Vec::new();
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            add_options(sub);
            let args: Vec<(usize, bool, &'static str)> = sub
                .get_positionals()
                .filter_map(|a| {
                    let index = a.get_index()?.checked_sub(1)?;
                    let many = a.get_num_args().is_some_and(|n| n.max_values() > 1);
                    Some((index, many, kind_of(a)?))
                })
                .collect();
            if args.is_empty() {
                continue;
            }
            let mut names = vec![sub.get_name().to_string()];
            names.extend(sub.get_all_aliases().map(str::to_string));
            // Commands whose arguments complete alike share one case.
            match rules.iter_mut().find(|r: &&mut Rule| r.args == args) {
                Some(r) => r.names.extend(names),
                None => rules.push(Rule { names, args }),
            }
        }
        Table {
            rules,
            value_options,
        }
    }

    /// The shell code that sets `kind` from `npos` for one command (bash and zsh).
    fn posix_body(args: &[(usize, bool, &'static str)]) -> String {
        args.iter()
            .map(|(i, many, kind)| match (i, many) {
                (0, true) => format!("kind={kind}"),
                (i, true) => format!("(( npos >= {i} )) && kind={kind}"),
                (i, false) => format!("(( npos == {i} )) && kind={kind}"),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn cases(&self, shell: Shell) -> String {
        let mut out = String::new();
        for r in &self.rules {
            let _ = match shell {
                Shell::Bash => writeln!(
                    out,
                    "            {}) {} ;;",
                    r.names.join(" | "),
                    Self::posix_body(&r.args)
                ),
                Shell::Zsh => writeln!(
                    out,
                    "            ({}) {} ;;",
                    r.names.join("|"),
                    Self::posix_body(&r.args)
                ),
                Shell::Fish => {
                    let _ = writeln!(out, "        case {}", r.names.join(" "));
                    for (i, many, kind) in &r.args {
                        let op = if *many { "-ge" } else { "-eq" };
                        let _ =
                            writeln!(out, "            test $npos {op} {i}; and set kind {kind}");
                    }
                    Ok(())
                }
            };
        }
        out
    }

    /// The script text to append to clap_complete's script for `shell`.
    pub fn script(&self, shell: Shell) -> String {
        let (template, separator) = match shell {
            Shell::Bash => (BASH, " | "),
            Shell::Zsh => (ZSH, "|"),
            Shell::Fish => (FISH, " "),
        };
        template
            .replace("@DISPATCH@", SH_DISPATCH)
            .replace("@CASES@", self.cases(shell).trim_end_matches('\n'))
            .replace("@VALUE_OPTIONS@", &self.value_options.join(separator))
            .replace("@DEQUOTE@", BASH_DEQUOTE)
    }
}

const HEADER: &str = "\
# Service names and runlevels: where a command takes a NAME or a RUNLEVEL, the candidates are
# what `svc __complete services|runlevels` prints for the configuration of the line being
# completed (its --config-dir, or SVC_CONFIG_DIR=DIR written before svc — not in bash, which
# does not show a completion function the assignments before the command — or the environment).
# Generated from svc's command line like the rest of this file.
";

/// bash gives a completion function the words as typed, quotes and backslashes included
/// (`"/srv/my conf"`, `/srv/my\ conf`): this undoes the quoting of one word without `eval`,
/// so nothing on the line (`$(...)`, backquotes, variables) is ever expanded or run.
const BASH_DEQUOTE: &str = r#"# One word as typed, without its quoting ('...', "...", backslashes), into REPLY. Nothing
# is expanded or run: a `$` or a backquote stays as it is.
_svc_dequote() {
    local w=$1 c q= out=
    local -i i
    for ((i = 0; i < ${#w}; i++)); do
        c=${w:i:1}
        if [[ $q == "'" ]]; then
            if [[ $c == "'" ]]; then q=; else out+=$c; fi
        elif [[ $c == '\' ]]; then
            ((i++))
            c=${w:i:1}
            [[ $q == '"' && $c != [\"\\\$\`] ]] && out+='\'
            out+=$c
        elif [[ -z $q && ( $c == "'" || $c == '"' ) ]]; then
            q=$c
        elif [[ $q == '"' && $c == '"' ]]; then
            q=
        else
            out+=$c
        fi
    done
    REPLY=$out
}
"#;

/// bash and zsh alike: complete the value the command line asks for, else fall back to clap's
/// `_svc`. Without its last newline: the template has it.
const SH_DISPATCH: &str = "    if [[ -z $dashes && $cur != -* ]]; then
        case $cmd in
@CASES@
        esac
    fi
    if [[ -z $kind ]]; then
        _svc \"$@\"
        return
    fi";

const BASH: &str = "
@HEADER@@DEQUOTE@
_svc_values() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local i w cmd= npos=0 dashes= kind= config= REPLY
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ -n $dashes ]]; then
            ((npos++))
            continue
        fi
        case $w in
            --) dashes=1 ;;
            --config-dir=*) config=${w#*=} ;;
            --config-dir)
                [[ ${COMP_WORDS[i+1]} == = ]] && ((i++))
                ((i++))
                config=${COMP_WORDS[i]}
                ;;
            @VALUE_OPTIONS@)
                [[ ${COMP_WORDS[i+1]} == = ]] && ((i++))
                ((i++))
                ;;
            -*) ;;
            *) if [[ -z $cmd ]]; then cmd=$w; else ((npos++)); fi ;;
        esac
    done
    [[ $prev == = && COMP_CWORD -ge 2 ]] && prev=${COMP_WORDS[COMP_CWORD-2]}
    case $prev in
        --config-dir | @VALUE_OPTIONS@) dashes=1 ;;
    esac
@DISPATCH@
    _svc_dequote \"${COMP_WORDS[0]}\"
    local svc=$REPLY
    _svc_dequote \"$config\"
    config=$REPLY
    [[ $svc == \"~/\"* ]] && svc=$HOME/${svc#\"~/\"}
    [[ $config == \"~/\"* ]] && config=$HOME/${config#\"~/\"}
    local -a args=()
    [[ -n $config ]] && args=(--config-dir \"$config\")
    compopt +o default +o bashdefault 2>/dev/null
    COMPREPLY=($(compgen -W \"$(\"$svc\" \"${args[@]}\" __complete \"$kind\" 2>/dev/null)\" -- \"$cur\"))
}

if [[ \"${BASH_VERSINFO[0]}\" -eq 4 && \"${BASH_VERSINFO[1]}\" -ge 4 || \"${BASH_VERSINFO[0]}\" -gt 4 ]]; then
    complete -F _svc_values -o nosort -o bashdefault -o default svc
else
    complete -F _svc_values -o bashdefault -o default svc
fi
";

/// Replaces clap_complete's last lines (from [`ZSH_CLAP_TAIL`]), which register `_svc`.
const ZSH: &str = "
@HEADER@_svc_values() {
    local i w cmd= npos=0 dashes= kind= config= line_config=
    local cur=${words[CURRENT]} prev=${words[CURRENT-1]}
    local -a line
    line=(${(z)BUFFER})
    for w in $line; do
        case $w in
            (SVC_CONFIG_DIR=*) line_config=${(Q)w#*=} ;;
            ([A-Za-z_]*=*) ;;
            (*) break ;;
        esac
    done
    for (( i = 2; i < CURRENT; i++ )); do
        w=${words[i]}
        if [[ -n $dashes ]]; then
            (( npos++ ))
            continue
        fi
        case $w in
            (--) dashes=1 ;;
            (--config-dir=*) config=${(Q)w#*=} ;;
            (--config-dir) (( i++ )); config=${(Q)words[i]} ;;
            (@VALUE_OPTIONS@) (( i++ )) ;;
            (-*) ;;
            (*) if [[ -z $cmd ]]; then cmd=$w; else (( npos++ )); fi ;;
        esac
    done
    case $prev in
        (--config-dir|@VALUE_OPTIONS@) dashes=1 ;;
    esac
@DISPATCH@
    local svc=${(Q)words[1]}
    [[ $svc == '~/'* ]] && svc=$HOME/${svc#'~/'}
    [[ $config == '~/'* ]] && config=$HOME/${config#'~/'}
    [[ $line_config == '~/'* ]] && line_config=$HOME/${line_config#'~/'}
    local -a env args candidates
    [[ -n $line_config ]] && env=(SVC_CONFIG_DIR=$line_config)
    [[ -n $config ]] && args=(--config-dir $config)
    candidates=(${(f)\"$(env $env $svc $args __complete $kind 2>/dev/null)\"})
    compadd -a candidates
}

if [ \"$funcstack[1]\" = \"_svc\" ]; then
    compdef _svc_values svc
    _svc_values \"$@\"
else
    compdef _svc_values svc
fi
";

/// The start of clap_complete's zsh registration, replaced by [`ZSH`]'s.
pub const ZSH_CLAP_TAIL: &str = "if [ \"$funcstack[1]\" = \"_svc\" ]; then";

const FISH: &str = "
@HEADER@function __svc_values --description 'svc: service names or runlevels for the argument being completed'
    set -l tokens (commandline -opc)
    set -l line_config
    while set -q tokens[1]; and string match -qr '^[A-Za-z_][A-Za-z0-9_]*=' -- $tokens[1]
        if string match -q 'SVC_CONFIG_DIR=*' -- $tokens[1]
            set line_config (string replace -- 'SVC_CONFIG_DIR=' '' $tokens[1])
        end
        set -e tokens[1]
    end
    set -l svc $tokens[1]
    set -e tokens[1]
    set -l cmd
    set -l npos 0
    set -l config
    set -l dashes
    set -l i 1
    set -l n (count $tokens)
    while test $i -le $n
        set -l w $tokens[$i]
        if set -q dashes[1]
            set npos (math $npos + 1)
        else
            switch $w
                case --
                    set dashes 1
                case '--config-dir=*'
                    set config (string replace -- '--config-dir=' '' $w)
                case --config-dir
                    set i (math $i + 1)
                    set config $tokens[$i]
                case @VALUE_OPTIONS@
                    set i (math $i + 1)
                case '-*'
                case '*'
                    if test -z \"$cmd\"
                        set cmd $w
                    else
                        set npos (math $npos + 1)
                    end
            end
        end
        set i (math $i + 1)
    end
    if test $i -gt (math $n + 1)
        # The word being completed is the value of the last option.
        return 1
    end
    set -q dashes[1]; and return 1
    string match -q -- '-*' (commandline -ct); and return 1
    set -l kind
    switch $cmd
@CASES@
    end
    test -n \"$kind\"; or return 1
    test \"$argv[1]\" = --test; and return 0
    set -l env
    test -n \"$line_config\"; and set env SVC_CONFIG_DIR=$line_config
    set -l args
    test -n \"$config\"; and set args --config-dir $config
    env $env $svc $args __complete $kind 2>/dev/null
end

complete -c svc -f -n '__svc_values --test' -a '(__svc_values)'
";

/// clap_complete's script for `shell` with service names and runlevels added.
pub fn extend(shell: Shell, clap_script: &str, cmd: &Command) -> String {
    let ours = Table::of(cmd).script(shell).replace("@HEADER@", HEADER);
    match shell {
        Shell::Zsh => {
            let base = clap_script
                .rfind(ZSH_CLAP_TAIL)
                .map_or(clap_script, |at| &clap_script[..at]);
            format!("{}\n{ours}", base.trim_end())
        }
        _ => format!("{clap_script}{ours}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_table_comes_from_the_command_line() {
        let t = Table::of(&crate::cli::Cli::command());
        let rule = |name: &str| {
            t.rules
                .iter()
                .find(|r| r.names.iter().any(|n| n == name))
                .map(|r| r.args.clone())
        };
        assert_eq!(rule("start"), Some(vec![(0, true, "services")]));
        assert_eq!(rule("access-check"), Some(vec![(0, false, "services")]));
        assert_eq!(rule("telinit"), Some(vec![(0, false, "runlevels")]));
        assert_eq!(rule("init"), Some(vec![(0, false, "runlevels")]));
        assert_eq!(rule("check"), None);
        // Hidden commands are not completed.
        assert_eq!(rule("supervise"), None);
        for o in [
            "--state-dir",
            "--jobs",
            "-n",
            "--lines",
            "--svg",
            "--transition",
        ] {
            assert!(t.value_options.iter().any(|v| v == o), "{o}");
        }
        assert!(!t.value_options.iter().any(|v| v == "--json" || v == "-q"));
    }

    #[test]
    fn every_script_gets_its_function_and_zsh_registers_it() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let text = String::from_utf8(crate::docgen::completions(
                &crate::cli::Cli::command(),
                shell,
            ))
            .unwrap();
            assert!(text.contains("__complete"), "{shell:?}");
            for p in [
                "@CASES@",
                "@VALUE_OPTIONS@",
                "@HEADER@",
                "@DEQUOTE@",
                "@DISPATCH@",
            ] {
                assert!(!text.contains(p), "{shell:?}: {p} is left");
            }
        }
        let zsh = String::from_utf8(crate::docgen::completions(
            &crate::cli::Cli::command(),
            Shell::Zsh,
        ))
        .unwrap();
        assert_eq!(zsh.matches(ZSH_CLAP_TAIL).count(), 1);
        assert!(zsh.contains("compdef _svc_values svc"));
        assert!(!zsh.contains("compdef _svc svc"));
    }
}
