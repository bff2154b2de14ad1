import type { Command, Option } from "commander";

// The command tree as completion scripts need it, read from commander's own
// objects: a script generated from it cannot drift from the commands.

export interface OptionNode {
  /** "--level", "-n": every spelling. */
  flags: string[];
  long?: string;
  short?: string;
  description: string;
  /** The option takes a value. */
  takesValue: boolean;
  /** Values it accepts, when commander knows them (.choices()). */
  choices: string[];
}

export interface CommandNode {
  /** ["vigil", "rules", "push"] */
  path: string[];
  names: string[];
  description: string;
  options: OptionNode[];
  children: CommandNode[];
}

function optionNode(option: Option): OptionNode {
  return {
    flags: [option.long, option.short].filter((flag): flag is string => Boolean(flag)),
    long: option.long,
    short: option.short,
    description: option.description,
    takesValue: option.required || option.optional,
    choices: option.argChoices ?? [],
  };
}

const HELP: OptionNode = {
  flags: ["--help", "-h"],
  long: "--help",
  short: "-h",
  description: "display help",
  takesValue: false,
  choices: [],
};

export function commandTree(command: Command, parent: string[] = []): CommandNode {
  const path = [...parent, command.name()];
  return {
    path,
    names: [command.name(), ...command.aliases()],
    description: command.description(),
    options: [...command.options.map(optionNode), HELP],
    children: command.commands.map((child) => commandTree(child, path)),
  };
}

/** Every node, depth first, the root first. */
export function allNodes(root: CommandNode): CommandNode[] {
  return [root, ...root.children.flatMap(allNodes)];
}
