// Parse GitHub workflow files with @actions/workflow-parser; print every error, exit 1 if any.
import fs from "node:fs";
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from "@actions/workflow-parser";

let errors = 0;
for (const name of process.argv.slice(2)) {
  const content = fs.readFileSync(name, "utf8");
  const result = parseWorkflow({ name, content }, new NoOperationTraceWriter());
  if (result.value && result.context.errors.count === 0) {
    await convertWorkflowTemplate(result.context, result.value);  // adds the needs-graph checks
  }
  for (const e of result.context.errors.getErrors()) {
    console.log(e.message);
    errors += 1;
  }
}
process.exit(errors ? 1 : 0);
