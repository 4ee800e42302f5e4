// What every script here shares: the environment the pytest runner passes, Lago's JavaScript client
// pointed at the live bxb (LAGO_API_URL, LAGO_API_KEY), numbered checks, and the Lago error of a
// call expected to fail. A failed check throws, so the script exits non-zero; `done()` prints the
// closing line the runner looks for.
import { Client, getLagoError } from "lago-javascript-client";

export const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
export const client = Client(env("LAGO_API_KEY"), { baseUrl: env("LAGO_API_URL") });
let checks = 0;
export const check = (label, fn) => {
  fn();
  checks += 1;
  console.log(`ok ${checks} - ${label}`);
};
export const lagoError = async (promise) => {
  try {
    await promise;
  } catch (error) {
    return await getLagoError(error);
  }
  throw new Error("expected the call to fail");
};
export const done = () => console.log(`${checks} passed, 0 failed`);
