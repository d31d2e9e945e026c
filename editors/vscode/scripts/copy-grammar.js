// The TextMate grammar lives once, in editors/policy.tmLanguage.json (other editors read it
// there, and tests/unit/test_highlight.py checks it against the language); the extension
// packs a copy, made here before `vsce package`.
const fs = require("fs");
const path = require("path");

const from = path.join(__dirname, "..", "..", "policy.tmLanguage.json");
const to = path.join(__dirname, "..", "syntaxes", "policy.tmLanguage.json");
fs.mkdirSync(path.dirname(to), { recursive: true });
fs.copyFileSync(from, to);
console.log(`copied ${path.relative(process.cwd(), from)} -> ${path.relative(process.cwd(), to)}`);
