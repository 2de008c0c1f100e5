"""Drives CyberArk's Python SDK (conjur-api from PyPI) against Strongroom: one check a function, the
results as JSON on stdout ([{"name", "ok", "detail"}]). Run by python-sdk.test.ts with the venv's
python; env: URL, ACCOUNT, ADMIN_KEY, CA_FILE (https), TLS_URL, JWT, POLICY_FILE."""
import asyncio
import json
import os
import traceback

from conjur_api import Client
from conjur_api.models import (ConjurConnectionInfo, CreateHostData, CreateTokenData, CredentialsData,
                               ListMembersOfData, ListPermittedRolesData, Resource, SslVerificationMode)
from conjur_api.providers import AuthnAuthenticationStrategy, SimpleCredentialsProvider
from conjur_api.providers.jwt_authentication_strategy import JWTAuthenticationStrategy

ENV = os.environ
ACCOUNT = ENV["ACCOUNT"]


def client_for(url, login, api_key, ssl_mode=SslVerificationMode.TRUST_STORE, cert_file=None):
    creds = SimpleCredentialsProvider()
    creds.save(CredentialsData(machine=url, username=login, password=api_key))
    info = ConjurConnectionInfo(conjur_url=url, account=ACCOUNT, cert_file=cert_file)
    return Client(info, authn_strategy=AuthnAuthenticationStrategy(creds), ssl_verification_mode=ssl_mode)


async def main():
    results = []
    state = {}
    admin = client_for(ENV["URL"], "admin", ENV["ADMIN_KEY"])

    async def check(name, fn):
        try:
            detail = await fn()
            results.append({"name": name, "ok": True, "detail": detail})
        except Exception as error:  # noqa: BLE001 - every failure is a result
            results.append({"name": name, "ok": False, "detail": f"{type(error).__name__}: {error}\n{traceback.format_exc()[-1500:]}"})

    async def whoami():
        who = await admin.whoami()
        assert who["username"] == "admin", who
        return who

    async def load_policy():
        loaded = await admin.load_policy_file("root", ENV["POLICY_FILE"])
        state["app_key"] = loaded["created_roles"][f"{ACCOUNT}:host:py/app"]["api_key"]
        assert loaded["version"] == 1, loaded
        updated = await admin.update_policy_file("py", ENV["EXTRA_POLICY_FILE"])
        assert "created_roles" in updated, updated
        await admin.set("conjur/authn-jwt/py/public-keys", ENV["JWKS"])
        await admin.set("conjur/authn-jwt/py/issuer", "https://ci.example")
        await admin.set("conjur/authn-jwt/py/token-app-property", "workload")
        await admin.set("conjur/authn-jwt/py/identity-path", "py")
        return {"root": loaded["version"], "py": updated["version"]}

    async def dry_run():
        report = await admin.load_policy_file("py", ENV["EXTRA_POLICY_FILE"], dry_run=True)
        assert report["status"] == "Valid YAML", report
        return report["status"]

    async def set_get():
        await admin.set("py/secret", "first")
        await admin.set("py/secret", "s3cr3t & späce")
        assert (await admin.get("py/secret")).decode() == "s3cr3t & späce"
        assert (await admin.get("py/secret", "1")).decode() == "first"
        await admin.set("py/other", "two")
        many = await admin.get_many("py/secret", "py/other")
        assert many == {"py/secret": "s3cr3t & späce", "py/other": "two"}, many
        return many

    async def listing():
        ids = await admin.list({"kind": "variable", "search": "py/", "limit": 10})
        assert f"{ACCOUNT}:variable:py/secret" in ids, ids
        return ids

    async def resources_roles():
        assert await admin.resource_exists("variable", "py/secret")
        assert not await admin.resource_exists("variable", "py/none")
        res = await admin.get_resource("variable", "py/secret")
        assert res["id"] == f"{ACCOUNT}:variable:py/secret", res
        assert await admin.role_exists("host", "py/app")
        role = await admin.get_role("group", "py/readers")
        memberships = await admin.role_memberships("host", "py/app")
        assert f"{ACCOUNT}:group:py/readers" in memberships, memberships
        of = ListMembersOfData(identifier="py/readers")
        of.resource = Resource("group", "py/readers")  # as conjur-cli (python) fills it; a kind= here would filter the members
        members = await admin.list_members_of_role(of)
        assert f"{ACCOUNT}:host:py/app" in members, members  # the SDK maps the answer to member ids
        permitted = await admin.list_permitted_roles(ListPermittedRolesData(kind="variable", identifier="py/secret", privilege="execute"))
        assert f"{ACCOUNT}:host:py/app" in permitted, permitted
        return {"role": role["id"]}

    async def check_privilege():
        assert await admin.check_privilege("variable", "py/secret", "execute")
        assert await admin.check_privilege("variable", "py/secret", "execute", f"{ACCOUNT}:host:py/app")
        assert not await admin.check_privilege("variable", "py/secret", "update", f"{ACCOUNT}:host:py/app")
        return True

    async def host_reads():
        app = client_for(ENV["URL"], "host/py/app", state["app_key"])
        assert (await app.get("py/secret")).decode() == "s3cr3t & späce"
        return (await app.whoami())["username"]

    async def rotate():
        key = await admin.rotate_other_api_key(Resource("host", "py/app"))
        app = client_for(ENV["URL"], "host/py/app", key)
        return (await app.whoami())["username"]

    async def host_factory():
        tokens = await admin.create_token(CreateTokenData(host_factory="py/enroll", cidr="127.0.0.1/32", hours=1))
        token = tokens[0]["token"]
        host = await admin.create_host(CreateHostData(host_id="py-enrolled", token=token, annotations={"team": "green"}))
        assert host["id"] == f"{ACCOUNT}:host:py-enrolled" or host["id"].endswith(":host:py-enrolled"), host
        assert await admin.revoke_token(token) in (200, 204)
        return host["id"]

    async def user_password():
        key = await admin.rotate_other_api_key(Resource("user", "bob@py"))
        bob = client_for(ENV["URL"], "bob@py", key)
        await bob.change_personal_password("bob@py", key, "N3w-Passw0rd!x")
        bob2 = client_for(ENV["URL"], "bob@py", "N3w-Passw0rd!x")
        await bob2.login()
        new_key = await bob2.rotate_personal_api_key("bob@py", "N3w-Passw0rd!x")
        assert new_key and new_key != key
        return "ok"

    async def authenticator():
        await admin.set_authenticator_state("authn-jwt/py", False)
        await admin.set_authenticator_state("authn-jwt/py", True)
        return "ok"

    async def jwt_login():
        info = ConjurConnectionInfo(conjur_url=ENV["URL"], account=ACCOUNT, service_id="py")
        jwt_client = Client(info, authn_strategy=JWTAuthenticationStrategy(ENV["JWT"]))
        who = await jwt_client.whoami()
        assert who["username"] == "host/py/app", who
        return who["username"]

    async def https_ca_bundle():
        tls = client_for(ENV["TLS_URL"], "admin", ENV["TLS_ADMIN_KEY"], SslVerificationMode.CA_BUNDLE, ENV["CA_FILE"])
        return (await tls.whoami())["username"]

    async def server_version():
        # Conjur OSS answers /info with 404, and the SDK then reads the version from the root page
        return await admin.server_version()

    for name, fn in [("whoami", whoami), ("load_policy_file + update_policy_file", load_policy), ("dry run", dry_run),
                     ("set / get (version) / get_many", set_get), ("list with constraints", listing),
                     ("resources, roles, memberships, members, permitted roles", resources_roles),
                     ("check_privilege", check_privilege), ("a host reads with its API key", host_reads),
                     ("rotate_other_api_key", rotate), ("host factory: create_token, create_host, revoke_token", host_factory),
                     ("change_personal_password, login, rotate_personal_api_key", user_password),
                     ("set_authenticator_state", authenticator), ("JWT authentication strategy", jwt_login),
                     ("https with CA_BUNDLE", https_ca_bundle), ("server_version", server_version)]:
        await check(name, fn)
    print(json.dumps(results, default=str))


asyncio.run(main())
