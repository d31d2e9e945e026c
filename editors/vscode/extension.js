// The VS Code side of the policy language: starts `policy-engine lsp` and connects to it over
// stdio. Everything the editor shows (diagnostics, hover, completion, definition, formatting,
// quick fixes) comes from that server, so VS Code and `policy-engine check` never disagree.
const fs = require("fs");
const path = require("path");
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function serverCommand() {
  const configured = vscode.workspace.getConfiguration("policyEngine").get("command");
  if (configured) {
    return configured;
  }
  const bin = process.platform === "win32" ? path.join(".venv", "Scripts", "policy-engine.exe")
                                           : path.join(".venv", "bin", "policy-engine");
  for (const folder of vscode.workspace.workspaceFolders || []) {
    const candidate = path.join(folder.uri.fsPath, bin);
    if (fs.existsSync(candidate)) {
      return candidate;
    }
  }
  return "policy-engine";
}

function activate(context) {
  const command = serverCommand();
  const serverOptions = { command, args: ["lsp"], transport: TransportKind.stdio };
  const clientOptions = {
    documentSelector: [{ scheme: "file", language: "policy" }, { scheme: "untitled", language: "policy" }],
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.policy") },
  };
  client = new LanguageClient("policyEngine", "Policy language", serverOptions, clientOptions);
  client.start().catch((err) => {
    vscode.window.showErrorMessage(
      `Could not start \`${command} lsp\` (${err.message || err}). Install policy-engine ` +
      "(see the README) or set the policyEngine.command setting to its path.");
  });
  context.subscriptions.push({ dispose: () => client && client.stop() });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
