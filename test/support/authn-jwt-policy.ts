/**
 * Conjur's authn-jwt authenticator as a policy fragment (a root-level list item): the
 * webservice, its settings variables and the `apps` group allowed to authenticate, as
 * Conjur's docs and CyberArk's clients set it up. Shared by the API, client and cluster tiers.
 */
export function authnJwtPolicy(serviceId: string): string {
  return `- !policy
  id: conjur/authn-jwt/${serviceId}
  body:
  - !webservice
  - !variable public-keys
  - !variable issuer
  - !variable audience
  - !variable token-app-property
  - !variable identity-path
  - !group apps
  - !permit { role: !group apps, privilege: [ read, authenticate ], resource: !webservice }`;
}
