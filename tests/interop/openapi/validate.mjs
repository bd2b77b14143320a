#!/usr/bin/env node
// Validates an OpenAPI document: `node validate.mjs FILE`.
//
// The schema check is @seriousme/openapi-schema-validator (the OpenAPI
// Initiative's JSON schemas for 2.0, 3.0, 3.1 and 3.2, checked with ajv), and
// every `$ref` must resolve. Then a few rules of the OpenAPI text that a JSON
// schema cannot express: operationIds are unique, and every `{param}` in a
// path template is declared as a path parameter (and every declared path
// parameter is in the template).
//
// Prints "valid OpenAPI X" and exits 0, or prints every error and exits 1.
import { Validator } from "@seriousme/openapi-schema-validator";

const file = process.argv[2];
if (!file) {
  console.error("usage: node validate.mjs FILE");
  process.exit(2);
}

const validator = new Validator();
const res = await validator.validate(file);
if (!res.valid) {
  console.error(`${file}: not a valid OpenAPI document`);
  console.error(JSON.stringify(res.errors, null, 2));
  process.exit(1);
}
try {
  validator.resolveRefs();
} catch (e) {
  console.error(`${file}: a $ref does not resolve: ${e.message}`);
  process.exit(1);
}

const spec = validator.specification;
const errors = [];
const methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const operationIds = new Map();
const resolve = (p) => {
  // Local references only (the document is self-contained).
  if (p && typeof p.$ref === "string" && p.$ref.startsWith("#/")) {
    return p.$ref
      .slice(2)
      .split("/")
      .reduce((o, k) => (o ? o[k.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined), spec);
  }
  return p;
};
for (const [path, item] of Object.entries(spec.paths ?? {})) {
  const templated = new Set([...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]));
  for (const method of methods) {
    const op = item[method];
    if (!op) continue;
    if (op.operationId) {
      const seen = operationIds.get(op.operationId);
      if (seen) errors.push(`operationId ${op.operationId} used by ${seen} and ${method} ${path}`);
      operationIds.set(op.operationId, `${method} ${path}`);
    }
    const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map(resolve);
    const declared = new Set(params.filter((p) => p && p.in === "path").map((p) => p.name));
    for (const name of templated) {
      if (!declared.has(name)) errors.push(`${method} ${path}: path parameter {${name}} is not declared`);
    }
    for (const name of declared) {
      if (!templated.has(name)) errors.push(`${method} ${path}: path parameter ${name} is not in the path`);
    }
    for (const p of params) {
      if (p && p.in === "path" && p.required !== true) {
        errors.push(`${method} ${path}: path parameter ${p.name} must be required: true`);
      }
    }
  }
}
if (errors.length > 0) {
  console.error(`${file}: ${errors.length} error(s)`);
  for (const e of errors) console.error(`  ${e}`);
  process.exit(1);
}
console.log(`valid OpenAPI ${validator.version}: ${Object.keys(spec.paths ?? {}).length} paths`);
