// The seed flow through a TypeScript client generated from the API's OpenAPI document:
// openapi-typescript writes ./tandem.d.ts (the API's types), openapi-fetch calls the API
// with them. tests/e2e/test_api_description.py generates the types, compiles this file
// with `tsc --strict` (a type error fails the test) and runs it against the local stack.
//
// Environment: API_URL, COGNITO_URL, CLIENT_ID, EMAIL, PASSWORD.
import createClient from "openapi-fetch";
import type { paths } from "./tandem.js";

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`failed: ${what}`);
}

// Sign in as a mobile app does: Cognito's InitiateAuth, then the ID token as bearer.
async function signIn(): Promise<string> {
  const answer = await fetch(env("COGNITO_URL"), {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
    },
    body: JSON.stringify({
      AuthFlow: "USER_PASSWORD_AUTH",
      ClientId: env("CLIENT_ID"),
      AuthParameters: { USERNAME: env("EMAIL"), PASSWORD: env("PASSWORD") },
    }),
  });
  check(answer.ok, `sign-in answered ${answer.status}`);
  const result = (await answer.json()) as { AuthenticationResult: { IdToken: string } };
  return result.AuthenticationResult.IdToken;
}

async function main(): Promise<void> {
  const token = await signIn();
  const api = createClient<paths>({
    baseUrl: env("API_URL"),
    headers: { Authorization: `Bearer ${token}` },
  });

  const project = await api.POST("/projects", { body: { name: "Inbox" } });
  check(project.response.status === 201 && project.data !== undefined, "create a project");
  const projectId = project.data.projectId;

  // The original client's body, as is.
  const created = await api.POST("/tasks", {
    body: {
      title: "My Task",
      projectId,
      status: "Active",
      targetDate: null,
      startDate: null,
      isCompleted: false,
    },
    params: { header: { "Idempotency-Key": `seed-${projectId}` } },
  });
  check(created.response.status === 201 && created.data !== undefined, "create the seed task");
  const task = created.data;
  check(created.response.headers.get("Location") === `/tasks/${task.taskId}`, "Location");
  const etag = created.response.headers.get("ETag");
  check(etag === `"${task.version}"`, "ETag");

  const listed = await api.GET("/tasks", { params: { query: { projectId, limit: 10 } } });
  check(listed.data !== undefined, "list tasks");
  check(listed.data.items.map((t) => t.taskId).join() === task.taskId, "the list has the task");
  check(listed.data.nextCursor === null, "one page");

  const patched = await api.PATCH("/tasks/{task_id}", {
    params: { path: { task_id: task.taskId }, header: { "If-Match": etag } },
    body: { status: "Done", isCompleted: true },
  });
  check(patched.data !== undefined, "PATCH with If-Match");
  check(patched.data.status === "Done" && patched.data.version === task.version + 1, "patched");

  const stale = await api.PATCH("/tasks/{task_id}", {
    params: { path: { task_id: task.taskId }, header: { "If-Match": etag } },
    body: { title: "stale" },
  });
  check(stale.response.status === 412 && stale.error?.status === 412, "a stale If-Match is 412");

  const deleted = await api.DELETE("/tasks/{task_id}", {
    params: { path: { task_id: task.taskId } },
  });
  check(deleted.response.status === 204, "delete");
  const gone = await api.GET("/tasks/{task_id}", { params: { path: { task_id: task.taskId } } });
  check(gone.response.status === 404 && gone.error?.type.endsWith(":not-found") === true, "404");

  console.log(JSON.stringify({ ok: true, taskId: task.taskId }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
