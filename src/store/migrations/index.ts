import { SeedSchema1732560000000 } from "./1732560000000-SeedSchema.js";
import { ResourceObjects1732560000001 } from "./1732560000001-ResourceObjects.js";
import { Installation1732560000002 } from "./1732560000002-Installation.js";
import { DatabaseRuntime1732560000010 } from "./1732560000010-DatabaseRuntime.js";
import { DomainCertificates1732560000020 } from "./1732560000020-DomainCertificates.js";
import { StatusOnlyChanges1732560000030 } from "./1732560000030-StatusOnlyChanges.js";
import { ChangePrevLabels1732560000040 } from "./1732560000040-ChangePrevLabels.js";
import { Syncs1732560000050 } from "./1732560000050-Syncs.js";
import { PeopleAndTokens1732560000060 } from "./1732560000060-PeopleAndTokens.js";
import { KeyRotation1732560000070 } from "./1732560000070-KeyRotation.js";
import { JobRuns1732560000080 } from "./1732560000080-JobRuns.js";
import { AccessNotify1732560000085 } from "./1732560000085-AccessNotify.js";
import { Notifications1732560000090 } from "./1732560000090-Notifications.js";
import { BackupDestinations1732560000110 } from "./1732560000110-BackupDestinations.js";
import { VolumeBackups1732560000120 } from "./1732560000120-VolumeBackups.js";

export { SeedSchema1732560000000, ResourceObjects1732560000001, Installation1732560000002, DatabaseRuntime1732560000010, DomainCertificates1732560000020, StatusOnlyChanges1732560000030, ChangePrevLabels1732560000040, Syncs1732560000050, PeopleAndTokens1732560000060, KeyRotation1732560000070, JobRuns1732560000080, AccessNotify1732560000085, Notifications1732560000090, BackupDestinations1732560000110, VolumeBackups1732560000120 };

/** Every migration, oldest first; TypeORM orders them by the timestamp in the class name. */
export const MIGRATIONS = [SeedSchema1732560000000, ResourceObjects1732560000001, Installation1732560000002, DatabaseRuntime1732560000010, DomainCertificates1732560000020, StatusOnlyChanges1732560000030, ChangePrevLabels1732560000040, Syncs1732560000050, PeopleAndTokens1732560000060, KeyRotation1732560000070, JobRuns1732560000080, AccessNotify1732560000085, Notifications1732560000090, BackupDestinations1732560000110, VolumeBackups1732560000120];
