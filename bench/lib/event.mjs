// The request every figure uses: a typical incoming event (an organisation
// id, two serials, three parameters), and the documented 200 body the local
// server responds with.

export const TOKEN = "bench-token";

export const EVENT = {
  organisation_registration_id: "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
  serials: ["VENUE0000001", "VENUE0000002"],
  parameters: { source: "pos", amount: 12.5, member: true },
};

export const EVENT_PATH = "/v1/workflows/incoming-event";

// `{ "message": string, "event": object }`, as the API documents the 200.
export const RESPONSE_BODY = JSON.stringify({
  message: "Event received.",
  event: {
    id: "5f0c6a52-3f43-4c1e-9a8e-2d7b6c1f0e91",
    ...EVENT,
    received_at: "2026-12-04T12:00:00.000Z",
  },
});

// Throws unless a call resolved to the documented 200 body.
export function checkResponse(body) {
  if (body?.message !== "Event received." || typeof body.event !== "object") {
    throw new Error(`unexpected response: ${JSON.stringify(body)}`);
  }
}
