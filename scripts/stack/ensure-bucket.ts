// Creates the stack's default S3 bucket if it does not exist (run by stack.sh after S3Proxy starts).
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';

const port = process.env.S3_PORT ?? '59000';
const bucket = process.env.S3_BUCKET ?? 'polysaga';
const client = new S3Client({
  endpoint: `http://127.0.0.1:${port}`,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: {
    accessKeyId: process.env.S3_ACCESS_KEY_ID ?? 'polysaga',
    secretAccessKey: process.env.S3_SECRET_ACCESS_KEY ?? 'polysaga-local-secret',
  },
});
try {
  await client.send(new HeadBucketCommand({ Bucket: bucket }));
} catch {
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  console.log(`created bucket ${bucket}`);
}
client.destroy();
