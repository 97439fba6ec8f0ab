// Jest setupFilesAfterEnv: nothing a test file writes outlives it.
import { removeTempDirs } from './helpers';

afterAll(removeTempDirs);
