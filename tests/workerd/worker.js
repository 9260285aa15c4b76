// A Worker that uses the package through its workerd entry and reports what
// it saw as JSON, so the test in Node can assert on it.
import {
  StampedeClient,
  StampedeError,
  storeWorkflowRun,
  validateIncomingEvent,
} from "../../pkg/workerd.js";

const ORG = "a1b2c3d4-e5f6-7890-abcd-ef1234567890";

export default {
  async fetch(request, env) {
    const client = new StampedeClient({ baseUrl: env.STAMPEDE_BASE_URL, accessToken: env.STAMPEDE_TOKEN });
    const report = {};

    report.validation = validateIncomingEvent({ organisation_registration_id: ORG, serials: ["1234567890123"] });
    report.event = await client.sendIncomingEvent({
      organisation_registration_id: ORG,
      serials: ["VENUE0000001"],
      parameters: { source: "worker" },
    });
    report.run = await storeWorkflowRun("welcome-journey", { org_reg_id: ORG }, {
      baseUrl: env.STAMPEDE_BASE_URL,
      accessToken: env.STAMPEDE_TOKEN,
    });

    try {
      await client.storeWorkflowRun("no-such-workflow", { org_reg_id: ORG });
      report.error = "resolved";
    } catch (error) {
      report.error = {
        isStampedeError: error instanceof StampedeError,
        isError: error instanceof Error,
        kind: error.kind,
        status: error.status,
        attempts: error.attempts,
      };
    }
    return Response.json(report);
  },
};
