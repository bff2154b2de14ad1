import type { Logger } from "@vigil/common";
import type { AgentConfig } from "../config";
import { checkConfigFile, prepareStateDir } from "./file-permissions";

/**
 * The start-up permission checks (README "Security"): the config file, then
 * the state directory (created 0700 if missing). The credential is checked
 * when it is read, the spool directory when the spool opens. Throws
 * VIGIL_ERR_INSECURE_PERMISSIONS naming the path, the problem and the fix.
 */
export function checkAgentFiles(config: AgentConfig, configFile: string | undefined, logger: Logger): void {
  if (configFile) {
    const { readableByOthers } = checkConfigFile(configFile);
    if (readableByOthers && (config.enrollmentToken || config.token)) {
      logger.warn(
        { configFile },
        "the config file holds a token and group or others can read it: chmod 600 it",
      );
    }
  }
  prepareStateDir(config.stateDir);
}
