// The parser's dist imports a JSON schema without an import attribute, which Node 20 refuses;
// this loader hook adds `type: "json"` to JSON imports.
export async function load(url, context, nextLoad) {
  if (url.endsWith(".json")) {
    const importAttributes = { ...(context.importAttributes || {}), type: "json" };
    return nextLoad(url, { ...context, importAttributes });
  }
  return nextLoad(url, context);
}
