/** Builds the Express app from injected services. Express types stay inside http/. */
import express, { type Express } from "express";
import { errorHandler, notFound } from "./middleware/errors.js";
import { clientAddress } from "./client-address.js";
import { inputGuard } from "./middleware/input-guard.js";
import { normalizePath } from "./middleware/normalize-path.js";
import { requestContext } from "./middleware/request-context.js";
import { authnRouter } from "./routes/authn.js";
import { authnJwtRouter } from "./routes/authn-jwt.js";
import { authnKubernetesRouter } from "./routes/authn-kubernetes.js";
import { operationsRouter, type ControllerHealthView } from "./routes/operations.js";
import { policiesRouter } from "./routes/policies.js";
import { resourcesRouter } from "./routes/resources.js";
import { hostFactoriesRouter } from "./routes/host-factories.js";
import { roleMembersRouter } from "./routes/role-members.js";
import { publicKeysRouter } from "./routes/public-keys.js";
import { accountsRouter } from "./routes/accounts.js";
import { rootRouter } from "./routes/root.js";
import { secretsRouter } from "./routes/secrets.js";
import { watchRouter } from "./routes/watch.js";
import type { Services } from "./services.js";

export function createApp(services: Services, controllerHealth?: () => ControllerHealthView | undefined): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.use(requestContext(services));
  app.use(clientAddress(services.config.trustedProxies));
  app.use(normalizePath);
  app.use(inputGuard);
  // Conjur reads raw bodies whatever the Content-Type (secrets are bytes; policies are YAML).
  app.use(express.raw({ type: () => true, limit: services.config.bodyLimitBytes }));
  // The read path first: every router before it costs each secret read its route matching.
  app.use(secretsRouter(services));
  app.use(watchRouter(services));
  app.use(operationsRouter(services, controllerHealth));
  app.use(authnRouter(services));
  app.use(authnJwtRouter(services));
  app.use(authnKubernetesRouter(services));
  app.use(policiesRouter(services));
  app.use(resourcesRouter(services));
  app.use(hostFactoriesRouter(services));
  app.use(roleMembersRouter(services));
  app.use(publicKeysRouter(services));
  app.use(accountsRouter(services));
  app.use(rootRouter());
  app.use(notFound);
  app.use(errorHandler(services));
  return app;
}
