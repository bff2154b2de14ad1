// Validates Kubernetes objects with the schemas of the npm package
// kubernetes-models (compiled with ajv from the Kubernetes OpenAPI
// definitions). ESM-only, so deploy-kubernetes.test.ts runs it as a child
// process: stdin a JSON list of {source, object}, stdout a JSON list of
// {source, kind, name, error} (error null when valid).

const input = await new Promise((resolve) => {
  const chunks = [];
  process.stdin.on("data", (chunk) => chunks.push(chunk));
  process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
});
const results = [];
for (const { source, object } of JSON.parse(input)) {
  const kind = object?.kind;
  const name = object?.metadata?.name;
  let error = null;
  try {
    const models = await import(`kubernetes-models/${object.apiVersion}`);
    const Model = models[kind];
    if (typeof Model !== "function") throw new Error(`no schema for ${object.apiVersion} ${kind}`);
    new Model(object).validate();
  } catch (cause) {
    error = cause instanceof Error ? cause.message : String(cause);
  }
  results.push({ source, kind, name, error });
}
process.stdout.write(JSON.stringify(results));
