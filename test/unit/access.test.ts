import { expect } from "chai";
import { decide, type Access, type Identity, type ProjectScope } from "../../src/core/access.js";
import { accessOf } from "../../src/api/access-of.js";

const scope: ProjectScope = { read: new Set(["pa", "pv"]), write: new Set(["pa"]), owned: new Set(["pa"]) };
const who = (role: Identity["role"]): Identity => ({ user: role, userId: "u", role });
const can = (role: Identity["role"], a: Access): boolean => decide(who(role), a, scope).allowed;

describe("authorization: the one decision (core/access.ts) and the classifier every request passes", () => {
  it("admins may do everything; developers write where they own or are members; viewers only read", () => {
    const write: Access = { verb: "create", resource: "applications", namespace: "pa" };
    expect([can("super_admin", write), can("admin", write), can("developer", write), can("viewer", write)]).to.deep.equal([true, true, true, false]);
    expect(can("developer", { ...write, namespace: "pv" }), "team role viewer").to.equal(false);
    expect(can("viewer", { verb: "get", resource: "applications", namespace: "pv", name: "x" })).to.equal(true);
    expect(can("developer", { verb: "get", resource: "applications", namespace: "other", name: "x" })).to.equal(false);
  });

  it("a list across Projects is allowed but filtered to the visible ones; database credentials need write", () => {
    expect([...(decide(who("developer"), { verb: "list", resource: "applications" }, scope).filter ?? [])]).to.deep.equal(["pa", "pv"]);
    expect(can("developer", { verb: "get", resource: "credentials", namespace: "pv", name: "db" })).to.equal(false);
    expect(can("developer", { verb: "get", resource: "credentials", namespace: "pa", name: "db" })).to.equal(true);
  });

  it("only an owner deletes a Project; Syncs, users and unclassified paths are the admins'", () => {
    expect(can("developer", { verb: "delete", resource: "projects", namespace: "pa", name: "pa" })).to.equal(true);
    expect(can("developer", { verb: "delete", resource: "projects", namespace: "pv", name: "pv" })).to.equal(false);
    for (const resource of ["syncs", "users", "teams", "unknown"]) expect(can("developer", { verb: "get", resource }), resource).to.equal(false);
    expect(decide(who("viewer"), { verb: "patch", resource: "applications", namespace: "pa", name: "web" }, scope).reason).to.match(/user "viewer" \(viewer\) cannot patch applications "web" in Project "pa"/);
  });

  it("volume backups and restores are Project content: viewers list them, only writers of the Project take or restore one", () => {
    const q = new URLSearchParams();
    const list = accessOf("GET", "/berth/v1/namespaces/pv/applications/web/volumebackups", q);
    expect(list).to.deep.equal({ verb: "list", resource: "volumebackups", namespace: "pv", name: "web" });
    const take = accessOf("POST", "/berth/v1/namespaces/pv/applications/web/volumebackups", q);
    const restore = accessOf("POST", "/berth/v1/namespaces/pa/applications/web/volumerestores", q);
    expect(restore).to.deep.equal({ verb: "create", resource: "volumerestores", namespace: "pa", name: "web" });
    expect([can("viewer", list), can("viewer", take), can("developer", take), can("developer", restore), can("viewer", restore)]).to.deep.equal([true, false, false, true, false]);
  });

  it("rotating the installation key (berth rotate-key) is the admins' alone", () => {
    const q = new URLSearchParams();
    const post = accessOf("POST", "/berth/v1/rotate-key", q);
    expect(post).to.deep.equal({ verb: "create", resource: "keyrotations" });
    expect(accessOf("GET", "/berth/v1/rotate-key", q)).to.deep.equal({ verb: "get", resource: "keyrotations" });
    expect([can("super_admin", post), can("admin", post), can("developer", post), can("viewer", post)]).to.deep.equal([true, true, false, false]);
    expect(decide(who("developer"), post, scope).reason).to.equal('user "developer" (developer) cannot create keyrotations: only admins');
  });

  it("classifies the paths kubectl and berth use", () => {
    const q = new URLSearchParams();
    expect(accessOf("GET", "/apis/berth.dev/v1alpha1/namespaces/pa/applications/web", q)).to.deep.equal({ verb: "get", resource: "applications", namespace: "pa", name: "web" });
    expect(accessOf("GET", "/apis/berth.dev/v1alpha1/applications", new URLSearchParams("watch=true"))).to.deep.equal({ verb: "watch", resource: "applications" });
    expect(accessOf("DELETE", "/apis/berth.dev/v1alpha1/projects/pa", q)).to.deep.include({ verb: "delete", resource: "projects", namespace: "pa" });
    expect(accessOf("GET", "/berth/v1/namespaces/pa/databases/db/credentials", q)).to.deep.include({ resource: "credentials", namespace: "pa" });
    expect(accessOf("GET", "/api/v1/namespaces/pa/events", q)).to.deep.include({ verb: "list", resource: "events", namespace: "pa" });
    expect(accessOf("GET", "/apis", q).resource).to.equal("discovery");
    expect(accessOf("POST", "/berth/v1/something-new", q).resource).to.equal("unknown");
  });
});
