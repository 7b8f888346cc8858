// `edgenet completion bash|zsh|fish`: a completion script generated from the CLI's own commander definition, so a
// new verb or option completes without editing a script by hand.
import type { Command, Option } from 'commander';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

interface Opt {
  short?: string;
  long?: string;
  description: string;
  /** takes a value */
  value: boolean;
  choices?: readonly string[];
  /** the value is a path (file or directory) */
  path?: 'file' | 'dir';
}

interface Verb {
  name: string;
  description: string;
  options: Opt[];
  /** a verb that takes a positional argument with fixed values (completion: the shell) */
  args?: readonly string[];
}

/** First clause of a help text, without characters that would need quoting in any of the three shells. */
function short(text: string): string {
  const first = text.split(/[;:(]/, 1)[0] ?? text;
  return first.replace(/[`'"$\\[\]]/g, '').trim().slice(0, 70);
}

function optionOf(o: Option): Opt {
  const flags = o.flags;
  const path = /<(file|path)>/.test(flags) ? 'file' : /<dir>/.test(flags) ? 'dir' : undefined;
  return {
    ...(o.short && { short: o.short }),
    ...(o.long && { long: o.long }),
    description: short(o.description),
    value: o.required || o.optional,
    ...(o.argChoices && { choices: o.argChoices }),
    ...(path && { path }),
  };
}

function verbsOf(program: Command): Verb[] {
  return program.commands.map((c) => {
    const hidden = new Set((c.options as readonly Option[]).filter((o) => o.hidden).map((o) => o.long));
    const args = c.registeredArguments[0]?.argChoices;
    return {
      name: c.name(),
      description: short(c.description()),
      options: [...(c.options as readonly Option[]).filter((o) => !hidden.has(o.long)).map(optionOf), { long: '--help', description: 'show help', value: false }],
      ...(args && { args }),
    };
  });
}

function bash(verbs: Verb[]): string {
  const lines = [
    '# edgenet completion for bash: source <(edgenet completion bash), or save it in /etc/bash_completion.d/edgenet',
    '_edgenet() {',
    '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" verb="${COMP_WORDS[1]}"',
    '  if [[ $COMP_CWORD -eq 1 ]]; then',
    `    COMPREPLY=($(compgen -W "${verbs.map((v) => v.name).join(' ')} --help --version" -- "$cur"))`,
    '    return',
    '  fi',
    '  case "$verb $prev" in',
  ];
  for (const v of verbs) {
    for (const o of v.options.filter((x) => x.value)) {
      const names = [o.short, o.long].filter((n): n is string => n !== undefined).map((n) => `"${v.name} ${n}"`).join('|');
      const action = o.choices ? `compgen -W "${o.choices.join(' ')}" -- "$cur"` : o.path === 'dir' ? 'compgen -d -- "$cur"' : o.path === 'file' ? 'compgen -f -- "$cur"' : 'true';
      lines.push(`    ${names}) COMPREPLY=($(${action})); return ;;`);
    }
  }
  lines.push('  esac', '  case "$verb" in');
  for (const v of verbs) {
    const words = [...v.options.flatMap((o) => [o.short, o.long].filter((n): n is string => n !== undefined)), ...(v.args ?? [])];
    lines.push(`    ${v.name}) COMPREPLY=($(compgen -W "${words.join(' ')}" -- "$cur")) ;;`);
  }
  lines.push('  esac', '}', 'complete -F _edgenet edgenet', '');
  return lines.join('\n');
}

function zsh(verbs: Verb[]): string {
  const spec = (o: Opt): string => {
    const value = o.value ? `:${o.long?.replace(/^--/, '') ?? 'value'}:${o.choices ? `(${o.choices.join(' ')})` : o.path === 'dir' ? '_files -/' : o.path === 'file' ? '_files' : ' '}` : '';
    const desc = `[${o.description}]`;
    if (o.short && o.long) return `'(${o.short} ${o.long})'{${o.short},${o.long}}'${desc}${value}'`;
    return `'${o.long ?? o.short ?? ''}${desc}${value}'`;
  };
  const lines = [
    '#compdef edgenet',
    '# edgenet completion for zsh: source <(edgenet completion zsh), or save it as _edgenet in a directory of $fpath',
    '_edgenet() {',
    '  local -a verbs',
    `  verbs=(${verbs.map((v) => `'${v.name}:${v.description}'`).join(' ')})`,
    '  if (( CURRENT == 2 )); then',
    "    _describe 'verb' verbs",
    '    return',
    '  fi',
    '  local verb=$words[2]',
    '  shift words',
    '  (( CURRENT-- ))',
    '  case $verb in',
  ];
  for (const v of verbs) {
    const args = v.args ? ` '1:${v.name}:(${v.args.join(' ')})'` : '';
    lines.push(`    ${v.name}) _arguments ${v.options.map(spec).join(' ')}${args} ;;`);
  }
  lines.push('  esac', '}', 'if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _edgenet "$@"; else compdef _edgenet edgenet; fi', '');
  return lines.join('\n');
}

function fish(verbs: Verb[]): string {
  const lines = [
    '# edgenet completion for fish: edgenet completion fish > ~/.config/fish/completions/edgenet.fish',
    'complete -c edgenet -f',
    ...verbs.map((v) => `complete -c edgenet -n __fish_use_subcommand -a ${v.name} -d '${v.description}'`),
  ];
  for (const v of verbs) {
    for (const o of v.options) {
      const parts = [`complete -c edgenet -n '__fish_seen_subcommand_from ${v.name}'`];
      if (o.short) parts.push(`-s ${o.short.replace(/^-/, '')}`);
      if (o.long) parts.push(`-l ${o.long.replace(/^--/, '')}`);
      if (o.choices) parts.push(`-x -a '${o.choices.join(' ')}'`);
      else if (o.path) parts.push('-r -F');
      else if (o.value) parts.push('-x');
      parts.push(`-d '${o.description}'`);
      lines.push(parts.join(' '));
    }
    if (v.args) lines.push(`complete -c edgenet -n '__fish_seen_subcommand_from ${v.name}' -a '${v.args.join(' ')}'`);
  }
  return `${lines.join('\n')}\n`;
}

/** The completion script of `program` for `shell`. */
export function completionScript(program: Command, shell: Shell): string {
  const verbs = verbsOf(program);
  return shell === 'bash' ? bash(verbs) : shell === 'zsh' ? zsh(verbs) : fish(verbs);
}
